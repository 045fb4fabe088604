// The HTML report: self-contained (no external resources), data safely embedded, and, in headless Chromium, every
// plot rendered with no error on the page. Screenshots go to <build>/html-report-test/*.png.
// The browser tests skip (exit 77) where no chromium is installed.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "reports/html_report.hpp"
#include "reports/run.hpp"
#include "reports/sweep_run.hpp"
#include "tests/sweep/synthetic_evaluator.hpp"

namespace {

namespace fs = std::filesystem;

// This process's own scratch folder (tests may run in parallel), removed when it exits.
const cs::test::ScratchDir kRoot("clustersim-html");

const fs::path kOut = fs::path(CLUSTERSIM_BINARY).parent_path() / "html-report-test";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string shell(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// A run report with every section. The figures are a fixture for the page, not a simulation.
nlohmann::json run_report() {
  nlohmann::json timeline = nlohmann::json::array();
  for (int rank = 0; rank < 4; ++rank)
    for (int mb = 0; mb < 6; ++mb) {
      const int64_t f0 = (rank + mb * 2) * 1000000LL;
      timeline.push_back({{"rank", rank}, {"stream", "compute"}, {"name", fmt::format("F{}", mb)}, {"kind", "forward"},
                          {"start_ns", f0}, {"end_ns", f0 + 900000}});
      timeline.push_back({{"rank", rank}, {"stream", "compute"}, {"name", fmt::format("B{}", mb)},
                          {"kind", "backward"}, {"start_ns", f0 + 14000000}, {"end_ns", f0 + 15800000}});
      timeline.push_back({{"rank", rank}, {"stream", "comm"}, {"name", fmt::format("A2A{}", mb)}, {"kind", "all-to-all"},
                          {"start_ns", f0 + 200000}, {"end_ns", f0 + 700000}});
    }
  nlohmann::json memory = nlohmann::json::array();
  for (int stage = 0; stage < 4; ++stage)
    for (auto [cat, gib] : {std::pair{"weights", 20.0}, {"optimizer", 10.0}, {"activations", 30.0 - 5 * stage}})
      memory.push_back({{"stage", stage}, {"category", cat}, {"bytes", gib * (1 << 30)}, {"capacity", 80.0 * (1 << 30)}});
  return {{"title", "fixture run <report> & co"},
          {"figures", {{"step_time_s", 12.5}, {"mfu", 0.41}, {"calibration", {{"profile", "fixture"}}}}},
          {"breakdown", {{"compute", 8.1}, {"exposed communication", 1.2}, {"bubble", 3.2}}},
          {"timeline", timeline},
          {"memory", memory},
          {"links", {{{"class", "nvlink"}, {"utilisation", 0.62}}, {{"class", "infiniband"}, {"utilisation", 0.35}}}}};
}

// A real sweep summary, from the synthetic test evaluator.
nlohmann::json sweep_summary() {
  const fs::path dir = kRoot.path / "sweep";
  fs::remove_all(dir);
  fs::create_directories(dir);
  cs::test::write_text((dir / "base.yaml").string(), cs::test::kTestBase);
  cs::test::write_text((dir / "sweep.yaml").string(), cs::test::kTestSweep);
  const cs::SweepPlan plan = cs::load_sweep((dir / "sweep.yaml").string());
  return cs::run_sweep(plan, cs::test::synthetic_figures, cs::SweepOptions{(dir / "out").string(), 2, false, {}, {}});
}

TEST(HtmlReport, IsSelfContainedAndEmbedsTheDataSafely) {
  nlohmann::json r = run_report();
  r["figures"]["note"] = "</script><script>alert(1)</script>";
  const std::string page = cs::render_html_report(r);
  EXPECT_EQ(page.find("<script src"), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_EQ(page.find("sourceMappingURL"), std::string::npos);
  EXPECT_EQ(page.find("</script><script>alert"), std::string::npos);
  EXPECT_NE(page.find("<\\/script><script>alert(1)<\\/script>"), std::string::npos);
  EXPECT_NE(page.find("<title>fixture run &lt;report&gt; &amp; co</title>"), std::string::npos);
  EXPECT_NE(page.find("vegaEmbed"), std::string::npos);
  EXPECT_EQ(page.find("{{DATA}}"), std::string::npos);
}

TEST(HtmlReport, MissingAssetsSayWhatToDo) {
  const fs::path empty = kRoot.path / "no-assets";
  fs::create_directories(empty);
  try {
    cs::render_html_report(run_report(), empty.string());
    FAIL() << "rendered without assets";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("template.html: missing"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("setup.sh"), std::string::npos) << e.what();
  }
}

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    int rc = 0;
    const std::string path = shell(fmt::format("command -v {} 2>/dev/null", name), &rc);
    if (rc == 0 && !path.empty()) return path.substr(0, path.find('\n'));
  }
  return "";
}

std::string chromium_command(const std::string& chromium, const fs::path& profile) {
  // Running as root needs --no-sandbox; the rest keeps a headless browser off the (closed) network.
  return fmt::format("{} --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                     "--disable-background-networking --disable-component-update --disable-sync "
                     "--disable-dev-shm-usage --user-data-dir={} --virtual-time-budget=20000",
                     chromium, profile.string());
}

// Opens the page, checks every expected plot rendered and no error was reported, saves a screenshot.
void check_in_browser(const nlohmann::json& report, const std::string& name, const std::vector<std::string>& plots,
                      std::string* dom_out = nullptr) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    std::fprintf(stderr, "chromium not found: skipped\n");
    std::exit(77);
  }
  fs::create_directories(kOut);
  const fs::path page = kOut / (name + ".html"), png = kOut / (name + ".png");
  cs::write_html_report(report, page.string());
  const fs::path profile = kOut / (name + "-profile");
  fs::remove_all(profile);
  const fs::path log = kOut / (name + "-console.log");
  int rc = 0;
  const std::string dom = shell(fmt::format("{} --enable-logging=stderr --v=0 --dump-dom file://{} 2>{}",
                                            chromium_command(chromium, profile), page.string(), log.string()),
                                &rc);
  ASSERT_EQ(rc, 0) << read_text(log);
  if (dom_out) *dom_out = dom;
  EXPECT_NE(dom.find("data-render-state=\"done\""), std::string::npos) << dom.substr(0, 2000);
  EXPECT_NE(dom.find(fmt::format("data-plots=\"{}\"", plots.size())), std::string::npos);
  EXPECT_EQ(dom.find("data-errors="), std::string::npos) << "errors on the page:\n"
                                                          << std::regex_replace(dom, std::regex("[\\s\\S]*<pre id=\"report-errors\"[^>]*>|</pre>[\\s\\S]*"), "");
  for (const std::string& id : plots) {
    // Each plot's container is marked rendered by vega-embed's promise and holds Vega's SVG (or its canvas, for the
    // timelines of more than 5000 slices).
    const std::regex div("data-plot=\"" + id +
                         "\"[^>]*data-rendered=\"true\"[^>]*>\\s*<(svg|canvas) [^>]*class=\"marks\"");
    EXPECT_TRUE(std::regex_search(dom, div)) << "plot " << id << " did not render";
  }
  // Console errors that escaped the page's own hook (a script that failed to parse, say).
  const std::string console = read_text(log);
  EXPECT_EQ(console.find("Uncaught"), std::string::npos) << console;
  fs::remove(png);
  fs::remove_all(profile);
  shell(fmt::format("{} --window-size=1280,2600 --hide-scrollbars --screenshot={} file://{} 2>/dev/null",
                    chromium_command(chromium, profile), png.string(), page.string()));
  const std::string shot = read_text(png);
  ASSERT_GT(shot.size(), 10000u) << png;
  EXPECT_EQ(shot.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  fs::remove_all(profile);
}

TEST(HtmlReportInBrowser, RunReportRendersEveryPlot) {
  check_in_browser(run_report(), "run", {"breakdown", "timeline", "memory", "links"});
}

// The report of a real run of the default DeepSeek-V3 scenario: its Gantt chart of 16 ranks, its breakdown, memory
// per stage and link utilisation, all rendered.
TEST(HtmlReportInBrowser, DeepSeekV3RunReportRendersEveryPlot) {
  const cs::RunOutput out =
      cs::run_scenario(cs::load_scenario(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml"), {});
  const nlohmann::json report = cs::run_report_input(out);
  ASSERT_GT(report["timeline"].size(), 1000u);
  ASSERT_GE(report["links"].size(), 3u);
  ASSERT_EQ(report["memory"].size(), 16u * 5);
  check_in_browser(report, "deepseek-v3-run", {"breakdown", "timeline", "memory", "links"});
}

// A run's memory is per pipeline rank, and a DualPipe rank holds two stages (rank 0: stages 0 and 3 of 4): the plot
// names its bars by rank and lists the stages (it called ranks "pipeline stage" before).
TEST(HtmlReportInBrowser, RunReportMemoryIsPerPipelineRank) {
  const cs::RunOutput out = cs::run_scenario(
      cs::load_scenario(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/examples/dualpipe-pp4.yaml"), {});
  const nlohmann::json report = cs::run_report_input(out);
  ASSERT_EQ(report["memory"].size(), 4u * 5);
  for (const auto& m : report["memory"]) {
    EXPECT_FALSE(m.contains("stage")) << m;
    EXPECT_EQ(m["stages"], out.json["memory"][m["rank"].get<size_t>()]["stages"]) << m;
  }
  EXPECT_EQ(report["memory"][0]["stages"], nlohmann::json::array({0, 3}));
  std::string dom;
  check_in_browser(report, "dualpipe-pp4-run", {"breakdown", "timeline", "memory", "links"}, &dom);
  EXPECT_NE(dom.find("Memory per pipeline rank"), std::string::npos);
  EXPECT_NE(dom.find(">pipeline rank</text>"), std::string::npos);
  EXPECT_EQ(dom.find(">pipeline stage</text>"), std::string::npos);
}

TEST(HtmlReportInBrowser, SweepReportRendersTheParetoPlot) {
  const nlohmann::json summary = sweep_summary();
  ASSERT_GE(summary["pareto"].size(), 2u);
  check_in_browser(cs::sweep_report_input(summary), "sweep", {"pareto"});
}

}  // namespace
