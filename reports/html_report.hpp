// A self-contained HTML report: one file with Vega, Vega-Lite and vega-embed inlined (from reports/html/node_modules,
// installed by setup.sh) and the data embedded, so it opens with no network. Plots are Vega-Lite specs built in the
// page (reports/html/template.html) from the input JSON. Every section is optional: the page shows what is given.
//
// Input JSON:
//   {
//     "title": "…", "subtitle": "…",                         (optional)
//     "figures": {"step_time_s": 12.3, "mfu": 0.41, "calibration": {…}, …},   table; nested objects flattened
//     "breakdown": [{"category": "compute", "seconds": 8.1}, …]   or {"compute": 8.1, …}: step-time breakdown bars
//     "timeline": [{"rank": 0, "stream": "compute", "name": "F3", "kind": "forward",    Gantt chart, one lane per
//                   "start_ns": 0, "end_ns": 1500000}, …]                              rank · stream; colour = kind
//                                                                                      (else stream); kind optional
//     "memory": [{"stage": 0, "bytes": 6.1e10, "capacity": 8.5e10, "category": "weights"}, …]   stacked bars per
//               stage (category optional), capacity drawn as a tick; or per pipeline rank, with "rank": 0 and
//               "stages": [0, 31] (the stages the rank holds) in place of "stage"
//     "links": [{"class": "nvlink", "utilisation": 0.62}, …]     utilisation in [0, 1], bars per link class
//     "sweep": <summary.json of a sweep (sweep_output.hpp)>      Pareto plot of total_gpu_hours vs days, table of
//                                                                points (fields, status, reason, result figures)
//   }
// The page marks <body data-render-state="done" data-plots="N"> once every plot has rendered and writes any error
// into #report-errors (and <html data-errors="N">), so a headless browser can check it from the DOM alone.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace cs {

// Folder with template.html and node_modules/: $CLUSTERSIM_HTML_ASSETS if set, else the source tree's reports/html.
std::string html_assets_dir();

// The page as text. Throws std::runtime_error naming the missing file (and the fix) when an asset is absent.
std::string render_html_report(const nlohmann::json& report, const std::string& assets_dir = html_assets_dir());
void write_html_report(const nlohmann::json& report, const std::string& path,
                       const std::string& assets_dir = html_assets_dir());

// The report input for a sweep's summary.json.
nlohmann::json sweep_report_input(const nlohmann::json& summary);

}  // namespace cs
