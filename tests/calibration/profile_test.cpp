// Profile loading and validation: malformed profiles fail with the file, the record index / field path and what is
// allowed; a valid profile survives a write/read round trip.
#include <gtest/gtest.h>

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
};
void PrintTo(const Bad& b, std::ostream* os) { *os << b.name; }

class Malformed : public ::testing::TestWithParam<Bad> {};

TEST_P(Malformed, NamesFileRecordFieldAndWhatIsAllowed) {
  const Bad& b = GetParam();
  json doc = base_profile();
  doc["records"].push_back(gemm_record(64, 2112, 7168, 9000));
  b.edit(doc);
  try {
    cs::parse_profile(doc.dump(), "bad.json");
    FAIL() << "accepted: " << doc.dump();
  } catch (const cs::ProfileError& e) {
    EXPECT_EQ(e.file(), "bad.json");
    EXPECT_EQ(e.field(), b.field) << e.what();
    EXPECT_NE(std::string(e.what()).find(b.says), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Profiles, Malformed,
    ::testing::Values(
        Bad{"WrongFormat", [](json& d) { d["format"] = "v0"; }, "format", "clustersim-profile/1"},
        Bad{"NoName", [](json& d) { d.erase("name"); }, "name", "missing"},
        Bad{"BadMethod", [](json& d) { d["method"] = "guessed"; }, "method", "measured, published"},
        Bad{"DeviceSmsZero", [](json& d) { d["device"]["sms"] = 0; }, "device.sms", "allowed range"},
        Bad{"SaturationAboveSms", [](json& d) { d["memory_saturation_sms"]["value"] = 500; },
            "memory_saturation_sms.value", "allowed range"},
        Bad{"NoDefaultMemory", [](json& d) { d["efficiencies"].erase(1); }, "efficiencies", "default"},
        Bad{"EfficiencyAboveOne", [](json& d) { d["efficiencies"][0]["value"] = 1.5; }, "efficiencies[0].value",
            "allowed range"},
        Bad{"EfficiencyUnknownOp", [](json& d) { d["efficiencies"][0]["op"] = "magic"; }, "efficiencies[0].op",
            "gemm"},
        Bad{"UnknownKernel", [](json& d) { d["records"][0]["kernel"] = "gemm_fp4"; }, "records[0].kernel",
            "gemm_fp8"},
        Bad{"GemmRoleForward", [](json& d) { d["records"][0]["role"] = "forward"; }, "records[0].role",
            "fprop, dgrad, wgrad"},
        Bad{"NegativeM", [](json& d) { d["records"][0]["shape"]["m"] = -4; }, "records[0].shape.m", "allowed range"},
        Bad{"FractionalK", [](json& d) { d["records"][0]["shape"]["k"] = 7.5; }, "records[0].shape.k", "integer"},
        Bad{"ShapeTypo", [](json& d) { d["records"][0]["shape"]["nn"] = 1; }, "records[0].shape.nn", "unknown field"},
        Bad{"SmsAboveDevice", [](json& d) { d["records"][0]["sms"] = 140; }, "records[0].sms", "allowed range"},
        Bad{"NoTime", [](json& d) { d["records"][0].erase("median_ns"); }, "records[0]", "exactly one of"},
        Bad{"TwoTimes", [](json& d) { d["records"][0]["tflops"] = 100; }, "records[0]", "exactly one of"},
        Bad{"GbpsOnGemm",
            [](json& d) {
              d["records"][0].erase("median_ns");
              d["records"][0]["gbps"] = 100;
            },
            "records[0].gbps", "compute-bound"},
        Bad{"MedianString", [](json& d) { d["records"][0]["median_ns"] = "fast"; }, "records[0].median_ns",
            "expected a number"},
        Bad{"P10AboveMedian", [](json& d) { d["records"][0]["p10_ns"] = 9500; }, "records[0].p10_ns", "exceeds"},
        Bad{"P90BelowMedian", [](json& d) { d["records"][0]["p90_ns"] = 10; }, "records[0].p90_ns", "below"},
        Bad{"NoSource", [](json& d) { d["records"][0].erase("source"); }, "records[0].source", "missing"},
        Bad{"Duplicate", [](json& d) { d["records"].push_back(gemm_record(64, 2112, 7168, 9100)); }, "records[1]",
            "duplicates records[0]"},
        Bad{"MemoryKernelWithoutBytes",
            [](json& d) {
              d["records"].push_back({{"kernel", "rmsnorm"}, {"role", "forward"}, {"shape", {{"m", 4}, {"n", 8}}},
                                      {"sms", 132}, {"median_ns", 5}, {"source", "x"}});
            },
            "records[1].shape.bytes", "missing"},
        Bad{"RecordsNotArray", [](json& d) { d["records"] = json::object(); }, "records", "expected an array"},
        Bad{"TopLevelTypo", [](json& d) { d["recrods"] = json::array(); }, "recrods", "unknown field"}),
    [](const auto& info) { return info.param.name; });

TEST(Profile, SyntaxErrorNamesLine) {
  try {
    cs::parse_profile("{\n \"format\": \"clustersim-profile/1\",\n \"name\": ,\n}", "broken.json");
    FAIL();
  } catch (const cs::ProfileError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("broken.json"), std::string::npos) << e.what();
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
      EXPECT_EQ(std::string(e.what()), "dup.json: " + c.field + ": duplicate key; a key may appear only once in an object");
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
