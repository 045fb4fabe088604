#include <CLI/CLI.hpp>
int main(int argc, char** argv) {
  CLI::App app{"clustersim: a simulator of large GPU training clusters"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
