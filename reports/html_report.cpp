#include "reports/html_report.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cs {

namespace fs = std::filesystem;

namespace {

std::string read_asset(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error(fmt::format("{}: missing; the HTML report needs it (run setup.sh, which runs npm ci in "
                                         "reports/html, or point CLUSTERSIM_HTML_ASSETS at such a folder)",
                                         path.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}

// Inline JavaScript must not close its <script> element early; its source-map comment would point at a file the
// page does not have.
std::string inline_js(std::string js) {
  replace_all(js, "</script", "<\\/script");
  if (auto pos = js.rfind("//# sourceMappingURL="); pos != std::string::npos) js.erase(pos);
  return js;
}

std::string escape_html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string html_assets_dir() {
  if (const char* env = std::getenv("CLUSTERSIM_HTML_ASSETS"); env && *env) return env;
  // The scenario module is given its source folder; reports/html sits beside it.
  return (fs::path(CLUSTERSIM_SCENARIO_DIR).parent_path() / "reports" / "html").string();
}

std::string render_html_report(const nlohmann::json& report, const std::string& assets_dir) {
  const fs::path dir(assets_dir);
  std::string page = read_asset(dir / "template.html");
  // "<\/" is the same string to JSON.parse, and keeps "</script>" inside the data from ending the element.
  std::string data = report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  replace_all(data, "</", "<\\/");
  const std::string title = report.value("title", std::string("clustersim report"));
  // Each placeholder is filled once, left to right, so text inserted earlier is never searched again.
  const std::pair<std::string, std::string> parts[] = {
      {"{{TITLE}}", escape_html(title)},
      {"/*{{VEGA}}*/", inline_js(read_asset(dir / "node_modules/vega/build/vega.min.js"))},
      {"/*{{VEGA_LITE}}*/", inline_js(read_asset(dir / "node_modules/vega-lite/build/vega-lite.min.js"))},
      {"/*{{VEGA_EMBED}}*/", inline_js(read_asset(dir / "node_modules/vega-embed/build/vega-embed.min.js"))},
      {"{{DATA}}", data},
  };
  size_t from = 0;
  for (const auto& [key, text] : parts) {
    const size_t pos = page.find(key, from);
    if (pos == std::string::npos)
      throw std::runtime_error(fmt::format("{}: placeholder {} missing", (dir / "template.html").string(), key));
    page.replace(pos, key.size(), text);
    from = pos + text.size();
  }
  return page;
}

void write_html_report(const nlohmann::json& report, const std::string& path, const std::string& assets_dir) {
  const std::string page = render_html_report(report, assets_dir);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << page;
  out.flush();
  if (!out) throw std::runtime_error(fmt::format("{}: cannot write the HTML report", path));
}

nlohmann::json sweep_report_input(const nlohmann::json& summary) {
  return {{"title", fmt::format("clustersim sweep {}", summary.value("sweep", std::string()))},
          {"subtitle", fmt::format("{} · base scenario {}", summary.value("sweep_file", std::string()),
                                   summary.value("base", std::string()))},
          {"sweep", summary}};
}

}  // namespace cs
