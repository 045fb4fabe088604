// Profile loading and validation: malformed profiles fail with the file, the record index / field path and what is
// allowed; a valid profile survives a write/read round trip.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "calibration/profile.hpp"
#include "tests/calibration/synthetic.hpp"

namespace {
using nlohmann::json;
using cs::test::base_profile;
using cs::test::gemm_record;

struct Bad {
  std::string name;
  std::function<void(json&)> edit;
  std::string field;  // expected ProfileError::field()
  std::string says;   // expected substring of the message
  std::string at;     // text on the line the error names (its first occurrence in the indented document) ...
  int below = 0;      // ... or this many lines below it (an array element's line is that of its '{')
};
void PrintTo(const Bad& b, std::ostream* os) { *os << b.name; }

class Malformed : public ::testing::TestWithParam<Bad> {};

TEST_P(Malformed, NamesFileRecordFieldAndWhatIsAllowed) {
  const Bad& b = GetParam();
  json doc = base_profile();
  doc["records"].push_back(gemm_record(64, 2112, 7168, 9000));
  b.edit(doc);
  const std::string text = doc.dump(1);  // one field a line, keys in alphabetical order
  const size_t at = text.find(b.at);
  ASSERT_NE(at, std::string::npos) << b.at << " not in\n" << text;
  const int line = 1 + int(std::count(text.begin(), text.begin() + long(at), '\n')) + b.below;
  try {
    cs::parse_profile(text, "bad.json");
    FAIL() << "accepted: " << text;
  } catch (const cs::ProfileError& e) {
    EXPECT_EQ(e.file(), "bad.json");
    EXPECT_EQ(e.field(), b.field) << e.what();
    EXPECT_EQ(e.line(), line) << e.what() << "\n" << text;
    EXPECT_NE(std::string(e.what()).find(b.says), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind(fmt::format("bad.json:{}: {}: ", line, b.field), 0), 0u) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Profiles, Malformed,
    ::testing::Values(
        Bad{"WrongFormat", [](json& d) { d["format"] = "v0"; }, "format", "clustersim-profile/1", "\"format\": \"v0\""},
        Bad{"NoName", [](json& d) { d.erase("name"); }, "name", "missing", "{"},
        Bad{"BadMethod", [](json& d) { d["method"] = "guessed"; }, "method", "measured, published", "\"method\": \"guessed\""},
        Bad{"DeviceSmsZero", [](json& d) { d["device"]["sms"] = 0; }, "device.sms", "allowed range", "\"sms\": 0"},
        Bad{"SaturationAboveSms", [](json& d) { d["memory_saturation_sms"]["value"] = 500; },
            "memory_saturation_sms.value", "allowed range", "\"value\": 500"},
        Bad{"NoDefaultMemory", [](json& d) { d["efficiencies"].erase(1); }, "efficiencies", "default", "\"efficiencies\""},
        Bad{"EfficiencyAboveOne", [](json& d) { d["efficiencies"][0]["value"] = 1.5; }, "efficiencies[0].value",
            "allowed range", "\"value\": 1.5"},
        Bad{"EfficiencyUnknownOp", [](json& d) { d["efficiencies"][0]["op"] = "magic"; }, "efficiencies[0].op",
            "gemm", "\"op\": \"magic\""},
        Bad{"UnknownKernel", [](json& d) { d["records"][0]["kernel"] = "gemm_fp4"; }, "records[0].kernel",
            "gemm_fp8", "\"kernel\": \"gemm_fp4\""},
        Bad{"GemmRoleForward", [](json& d) { d["records"][0]["role"] = "forward"; }, "records[0].role",
            "fprop, dgrad, wgrad", "\"role\": \"forward\""},
        Bad{"NegativeM", [](json& d) { d["records"][0]["shape"]["m"] = -4; }, "records[0].shape.m", "allowed range", "\"m\": -4"},
        Bad{"FractionalK", [](json& d) { d["records"][0]["shape"]["k"] = 7.5; }, "records[0].shape.k", "integer", "\"k\": 7.5"},
        Bad{"ShapeTypo", [](json& d) { d["records"][0]["shape"]["nn"] = 1; }, "records[0].shape.nn", "unknown field", "\"nn\": 1"},
        Bad{"SmsAboveDevice", [](json& d) { d["records"][0]["sms"] = 140; }, "records[0].sms", "allowed range", "\"sms\": 140"},
        Bad{"NoTime", [](json& d) { d["records"][0].erase("median_ns"); }, "records[0]", "exactly one of", "\"kernel\": \"gemm_fp8\"", -1},
        Bad{"TwoTimes", [](json& d) { d["records"][0]["tflops"] = 100; }, "records[0]", "exactly one of", "\"kernel\": \"gemm_fp8\"", -1},
        Bad{"GbpsOnGemm",
            [](json& d) {
              d["records"][0].erase("median_ns");
              d["records"][0]["gbps"] = 100;
            },
            "records[0].gbps", "compute-bound", "\"gbps\": 100"},
        Bad{"MedianString", [](json& d) { d["records"][0]["median_ns"] = "fast"; }, "records[0].median_ns",
            "expected a number", "\"median_ns\": \"fast\""},
        Bad{"P10AboveMedian", [](json& d) { d["records"][0]["p10_ns"] = 9500; }, "records[0].p10_ns", "exceeds", "\"p10_ns\": 9500"},
        Bad{"P90BelowMedian", [](json& d) { d["records"][0]["p90_ns"] = 10; }, "records[0].p90_ns", "below", "\"p90_ns\": 10"},
        Bad{"NoSource", [](json& d) { d["records"][0].erase("source"); }, "records[0].source", "missing", "\"kernel\": \"gemm_fp8\"", -1},
        Bad{"Duplicate", [](json& d) { d["records"].push_back(gemm_record(64, 2112, 7168, 9100)); }, "records[1]",
            "duplicates records[0]", "\"median_ns\": 9100", -2},
        Bad{"MemoryKernelWithoutBytes",
            [](json& d) {
              d["records"].push_back({{"kernel", "rmsnorm"}, {"role", "forward"}, {"shape", {{"m", 4}, {"n", 8}}},
                                      {"sms", 132}, {"median_ns", 5}, {"source", "x"}});
            },
            "records[1].shape.bytes", "missing", "\"kernel\": \"rmsnorm\"", 3},
        Bad{"RecordsNotArray", [](json& d) { d["records"] = json::object(); }, "records", "expected an array", "\"records\": {}"},
        Bad{"TopLevelTypo", [](json& d) { d["recrods"] = json::array(); }, "recrods", "unknown field", "\"recrods\": []"}),
    [](const auto& info) { return info.param.name; });

TEST(Profile, SyntaxErrorNamesLine) {
  try {
    cs::parse_profile("{\n \"format\": \"clustersim-profile/1\",\n \"name\": ,\n}", "broken.json");
    FAIL();
  } catch (const cs::ProfileError& e) {
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(std::string(e.what()).rfind("broken.json:3: (document): JSON syntax error", 0), 0u) << e.what();
  }
}

TEST(Profile, DuplicateKeyNamesTheField) {
  // The text is edited, not the document: a json object cannot hold a key twice, only its text can.
  json doc = base_profile();
  doc["records"].push_back(gemm_record(64, 2112, 7168, 9000));
  doc["records"].push_back(gemm_record(128, 2112, 7168, 9000));
  const std::string text = doc.dump();
  struct Case {
    std::string before, insert, field;
  };
  for (const Case& c : {Case{"\"format\":", "\"format\":\"v0\",", "format"},
                        Case{"\"sms\":132}", "\"sms\":100,", "device.sms"},
                        Case{"\"m\":128", "\"m\":64,", "records[1].shape.m"}}) {
    std::string t = text;
    const auto at = t.find(c.before);
    ASSERT_NE(at, std::string::npos) << c.before;
    t.insert(at, c.insert);
    try {
      cs::parse_profile(t, "dup.json");
      ADD_FAILURE() << "accepted: " << t;
    } catch (const cs::ProfileError& e) {
      EXPECT_EQ(e.field(), c.field) << e.what();
      EXPECT_EQ(e.line(), 1);  // the text is one line
      EXPECT_EQ(std::string(e.what()), "dup.json:1: " + c.field + ": duplicate key; a key may appear only once in an object");
    }
  }
}

TEST(Profile, MissingFileIsAProfileError) {
  EXPECT_THROW(cs::load_profile("/nonexistent/profile.json"), cs::ProfileError);
}

TEST(Profile, PublishedThroughputBecomesTime) {
  json doc = base_profile();
  doc["method"] = "published";
  json r = gemm_record(64, 2112, 7168, 1);
  r.erase("median_ns");
  r["tflops"] = 206;
  doc["records"].push_back(r);
  const cs::Profile p = cs::parse_profile(doc.dump(), "x.json");
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_NEAR(p.records[0].median_ns, 2.0 * 64 * 2112 * 7168 / 206e3, 1e-6);
  EXPECT_EQ(p.records[0].p10_ns, p.records[0].median_ns);  // one published figure: no noise band
}

TEST(Profile, RoundTripIsLossless) {
  json doc = base_profile();
  doc["device"]["libraries"] = {{"cublasLt", "13.1.0"}};
  doc["device"]["clocks"] = {{"sm_mhz_before", 1755}};
  doc["records"].push_back(gemm_record(64, 2112, 7168, 9000));
  doc["records"].push_back(cs::test::timed("rmsnorm", 1000, 900, 1200));
  const cs::Profile a = cs::parse_profile(doc.dump(), "a.json");
  const std::string text = cs::profile_to_json(a);
  const cs::Profile b = cs::parse_profile(text, "b.json");
  EXPECT_EQ(cs::profile_to_json(b), text);
  ASSERT_EQ(b.records.size(), 2u);
  EXPECT_EQ(b.records[1].p90_ns, 1200);
  EXPECT_EQ(b.device.libraries.at("cublasLt"), "13.1.0");
}

TEST(Profile, ResolveNameOrPath) {
  EXPECT_EQ(cs::resolve_profile("h800-published", "/p"), "/p/h800-published.json");
  EXPECT_EQ(cs::resolve_profile("my/own.json", "/p"), "my/own.json");
  EXPECT_EQ(cs::resolve_profile("own.json", "/p"), "own.json");
}

}  // namespace
