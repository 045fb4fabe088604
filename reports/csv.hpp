// CSV cells as RFC 4180 says: a cell with a comma, quote, CR or LF is quoted and its quotes doubled.
#pragma once
#include <string>
#include <vector>

namespace cs {

std::string csv_cell(const std::string& text);
std::string csv_row(const std::vector<std::string>& cells);  // ends with "\n"

}  // namespace cs
