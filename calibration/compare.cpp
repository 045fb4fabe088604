#include "calibration/compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace cs {

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::same: return "same";
    case Verdict::faster: return "faster";
    case Verdict::slower: return "SLOWER";
    case Verdict::noisy: return "noisy";
    case Verdict::missing: return "MISSING";
    case Verdict::added: return "new";
  }
  return "?";
}

namespace {

bool same_key(const KernelRecord& a, const KernelRecord& b) {
  return a.kernel == b.kernel && a.role == b.role && a.shape == b.shape && a.sms == b.sms;
}

double half_spread(const KernelRecord& r) { return (r.p90_ns - r.p10_ns) / (2.0 * r.median_ns); }

}  // namespace

CompareResult compare_profiles(const Profile& old_p, const Profile& new_p, double threshold) {
  CompareResult out;
  std::vector<bool> matched(new_p.records.size(), false);
  for (const auto& o : old_p.records) {
    CompareRow row;
    row.label = record_label(o);
    row.old_ns = o.median_ns;
    row.flops = record_flops(o.kernel, o.role, o.shape);
    size_t j = 0;
    while (j < new_p.records.size() && !same_key(o, new_p.records[j])) ++j;
    if (j == new_p.records.size()) {
      row.verdict = Verdict::missing;
      ++out.missing;
      out.rows.push_back(row);
      continue;
    }
    matched[j] = true;
    const auto& n = new_p.records[j];
    row.new_ns = n.median_ns;
    row.change = n.median_ns / o.median_ns - 1.0;
    row.noise = std::max(half_spread(o), half_spread(n));
    if (row.change > threshold + row.noise) {
      row.verdict = Verdict::slower;
      ++out.slower;
    } else if (row.change < -(threshold + row.noise)) {
      row.verdict = Verdict::faster;
      ++out.faster;
    } else if (std::abs(row.change) > threshold) {
      row.verdict = Verdict::noisy;
      ++out.noisy;
    }
    out.rows.push_back(row);
  }
  for (size_t j = 0; j < new_p.records.size(); ++j)
    if (!matched[j]) {
      CompareRow row;
      row.label = record_label(new_p.records[j]);
      row.new_ns = new_p.records[j].median_ns;
      row.flops = record_flops(new_p.records[j].kernel, new_p.records[j].role, new_p.records[j].shape);
      row.verdict = Verdict::added;
      ++out.added;
      out.rows.push_back(row);
    }
  return out;
}

std::string format_compare(const CompareResult& r, double threshold) {
  size_t w = 6;
  for (const auto& row : r.rows) w = std::max(w, row.label.size());
  std::string s = fmt::format("{:<{}}  {:>12}  {:>12}  {:>8}  {:>8}  {:>8}  {:>7}  {}\n", "kernel", w, "old µs",
                              "new µs", "old TF/s", "new TF/s", "change", "noise", "verdict");
  auto us = [](double ns) { return ns > 0 ? fmt::format("{:.2f}", ns / 1e3) : std::string("-"); };
  auto tf = [](double flops, double ns) {
    return flops > 0 && ns > 0 ? fmt::format("{:.0f}", flops / ns / 1e3) : std::string("-");
  };
  for (const auto& row : r.rows) {
    const bool both = row.old_ns > 0 && row.new_ns > 0;
    s += fmt::format("{:<{}}  {:>12}  {:>12}  {:>8}  {:>8}  {:>8}  {:>7}  {}\n", row.label, w, us(row.old_ns),
                     us(row.new_ns), tf(row.flops, row.old_ns), tf(row.flops, row.new_ns),
                     both ? fmt::format("{:+.1f}%", 100 * row.change) : "-",
                     both ? fmt::format("±{:.1f}%", 100 * row.noise) : "-", to_string(row.verdict));
  }
  // Compared: records both profiles hold (a missing or new record has nothing to be compared with).
  s += fmt::format("threshold {:.1f}% beyond noise: {} slower, {} faster, {} noisy, {} missing, {} new, {} compared\n",
                   100 * threshold, r.slower, r.faster, r.noisy, r.missing, r.added,
                   r.rows.size() - size_t(r.missing) - size_t(r.added));
  return s;
}

}  // namespace cs
