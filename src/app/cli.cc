#include "cli.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ballast/sim/format.h"
#include "ballast/version.h"

namespace ballast::app {
namespace {

// Wide enough for simulate's and trace's longest flags and value names.
constexpr size_t kHelpColumn = 33;

// The deepest subcommand the parser selected (the root when none).
const CLI::App* Selected(const CLI::App& root) {
  const CLI::App* app = &root;
  while (!app->get_subcommands().empty()) app = app->get_subcommands().front();
  return app;
}

// A value option given at most once; `set` reads the text and throws a
// CLI::ParseError (caught by Cli::Run) when it is bad.
CLI::Option* AddValue(CLI::App* cmd, const std::string& name,
                      const std::string& type, const std::string& help,
                      std::function<void(const std::string&)> set) {
  CLI::Option* option = cmd->add_option(
      name,
      [name, set = std::move(set)](const CLI::results_t& results) {
        if (results.size() > 1) {
          throw CLI::ValidationError(name, "given more than once");
        }
        set(results.front());
        return true;
      },
      help);
  option->type_name(type)->expected(1)->multi_option_policy(
      CLI::MultiOptionPolicy::TakeAll);
  return option;
}

std::string Quoted(absl::string_view text) {
  return absl::StrCat("'", text, "'");
}

// "a", "a or b", "a, b or c".
std::string Alternatives(const std::vector<std::string>& choices) {
  if (choices.size() < 2) return absl::StrJoin(choices, "");
  return absl::StrCat(absl::StrJoin(choices.begin(), choices.end() - 1, ", "),
                      " or ", choices.back());
}

}  // namespace

std::string Invocation::Name() const {
  std::string name = command.get_name();
  for (const CLI::App* app = command.get_parent(); app != nullptr;
       app = app->get_parent()) {
    name = absl::StrCat(app->get_name(), " ", name);
  }
  return name;
}

std::string Invocation::Help() const {
  // CLI11 names a subcommand in its usage line after the path given.
  std::string path;
  for (const CLI::App* app = command.get_parent(); app != nullptr;
       app = app->get_parent()) {
    path = path.empty() ? app->get_name()
                        : absl::StrCat(app->get_name(), " ", path);
  }
  return command.help(path);
}

int Invocation::UsageError(absl::string_view what) const {
  err << Name() << ": " << what << "\n\n" << Help();
  return 2;
}

Cli::Cli() : app_("", "ballast") {
  app_.footer(
      "`ballast COMMAND --help` describes a command's options. Exit codes: 0\n"
      "on success, 1 when the command fails, 2 on a usage error.");
  app_.get_formatter()->column_width(kHelpColumn);
  // Unknown arguments are collected (not thrown) so that Run can name them
  // as an unknown command, flag or argument; subcommands inherit this.
  app_.allow_extras();
  app_.require_subcommand(0, 1);
  app_.set_version_flag("--version", absl::StrCat("ballast ", kVersion),
                        "print the version and exit");
  AddServeCommand(*this);
  AddCheckConfigCommand(*this);
  AddProbeCommand(*this);
  AddSimulateCommand(*this);
  AddTraceCommand(*this);
  AddExplainCommand(*this);
  AddCommand("version", "print the version", "", [](const Invocation& call) {
    call.out << "ballast " << kVersion << "\n";
    return 0;
  });
  AddCommand("help", "", "", [this](const Invocation& call) {
    call.out << app_.get_formatter()->make_help(&app_, app_.get_name(),
                                                CLI::AppFormatMode::Normal);
    return 0;
  })->group("");  // hidden: --help is the documented spelling
}

CLI::App* Cli::AddCommand(const std::string& name,
                          const std::string& description,
                          const std::string& details, CommandFn run,
                          CLI::App* parent) {
  CLI::App* cmd = (parent ? parent : &app_)->add_subcommand(name, description);
  cmd->footer(details);  // else it would inherit the parent's
  runs_[cmd] = std::move(run);
  return cmd;
}

int Cli::Run(const Args& args, std::ostream& out, std::ostream& err) {
  // CLI11 takes the arguments last first.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app_.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app_.help();  // the selected subcommand's help
    return 0;
  } catch (const CLI::CallForVersion& e) {
    out << e.what() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    return Invocation{out, err, *Selected(app_)}.UsageError(e.what());
  }
  const CLI::App* cmd = Selected(app_);
  const Invocation call{out, err, *cmd};
  if (cmd == &app_) {
    if (app_.remaining().empty()) {
      err << app_.help();
      return 2;
    }
    return call.UsageError(
        absl::StrCat("unknown command ", Quoted(app_.remaining().front())));
  }
  for (const CLI::App* app = cmd; app != nullptr; app = app->get_parent()) {
    if (app->remaining().empty()) continue;
    const std::string extra = app->remaining().front();
    return call.UsageError(
        extra.starts_with("-")
            ? absl::StrCat("unknown flag ",
                           Quoted(extra.substr(0, extra.find('='))))
            : absl::StrCat("unexpected argument ", Quoted(extra)));
  }
  return runs_.at(cmd)(call);
}

CLI::Option* AddRequired(CLI::App* cmd, const std::string& name,
                         std::string* value, const std::string& type,
                         const std::string& help) {
  return AddValue(cmd, name, type, help,
                  [name, value](const std::string& text) {
                    if (text.empty()) throw CLI::RequiredError(name);
                    *value = text;
                  })
      ->required();
}

CLI::Option* AddString(CLI::App* cmd, const std::string& name,
                       std::optional<std::string>* value,
                       const std::string& type, const std::string& help) {
  return AddValue(cmd, name, type, help,
                  [value](const std::string& text) { *value = text; });
}

CLI::Option* AddChoice(CLI::App* cmd, const std::string& name,
                       std::string* value, std::vector<std::string> choices,
                       const std::string& help) {
  const std::string type = absl::StrJoin(choices, "|");
  return AddValue(
      cmd, name, type, help,
      [name, value, choices = std::move(choices)](const std::string& text) {
        if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
          throw CLI::ValidationError(
              name,
              absl::StrCat(Quoted(text), " is not ", Alternatives(choices)));
        }
        *value = text;
      });
}

CLI::Option* AddNumber(CLI::App* cmd, const std::string& name,
                       std::optional<double>* value, double min, bool strict,
                       const std::string& type, const std::string& help) {
  return AddValue(cmd, name, type, help,
                  [name, value, min, strict](const std::string& text) {
                    const std::optional<double> v = sim::ParseNumber(text);
                    if (!v || *v < min || (strict && *v == min)) {
                      throw CLI::ValidationError(
                          name, absl::StrCat(Quoted(text), " is not a number ",
                                             strict ? "> " : ">= ", min));
                    }
                    *value = v;
                  });
}

CLI::Option* AddWholeNumber(CLI::App* cmd, const std::string& name,
                            std::optional<int32_t>* value, int32_t min,
                            const std::string& help) {
  return AddValue(
      cmd, name, "N", help, [name, value, min](const std::string& text) {
        int32_t v = 0;
        if (!absl::SimpleAtoi(text, &v) || v < min) {
          throw CLI::ValidationError(
              name, absl::StrCat(Quoted(text), " is not a whole number ",
                                 min == 1 ? std::string("> 0")
                                          : absl::StrCat(">= ", min)));
        }
        *value = v;
      });
}

CLI::Option* AddTime(CLI::App* cmd, const std::string& name,
                     std::optional<double>* value, const std::string& help) {
  return AddValue(cmd, name, "T", help, [name, value](const std::string& text) {
    const std::optional<double> v = sim::ParseTraceTime(text);
    if (!v) {
      throw CLI::ValidationError(name,
                                 absl::StrCat(Quoted(text),
                                              " is not seconds or an RFC 3339 "
                                              "time"));
    }
    *value = v;
  });
}

}  // namespace ballast::app
