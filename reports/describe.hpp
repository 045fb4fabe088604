// `clustersim describe`: what a scenario asks for, before any simulation — parameters, FLOPs per token, stages and
// memory per pipeline rank.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "scenarios/scenario.hpp"

namespace cs {

// Figures for the scenario's first simulated phase (the step `run` simulates by default).
nlohmann::json describe_scenario(const Scenario& s);
// The same as a human-readable text block.
std::string describe_text(const nlohmann::json& d);

}  // namespace cs
