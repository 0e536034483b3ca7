#include "config/log.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <mutex>

namespace kinbox::log {

namespace {

std::mutex mtx;
spdlog::sink_ptr shared_sink;
spdlog::level::level_enum current_level = spdlog::level::info;

std::unique_ptr<spdlog::formatter> text_formatter() {
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %l [%n] %v",
                                                     spdlog::pattern_time_type::utc);
}

spdlog::sink_ptr sink() {
  if (!shared_sink) {
    shared_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    shared_sink->set_formatter(text_formatter());
  }
  return shared_sink;
}

/// One JSON object per line: time, level, component, and each `key=value` of the
/// message as a field (a value in quotes may hold spaces); other words go to "msg".
class json_formatter : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto text = std::string_view{msg.payload.data(), msg.payload.size()};
    nlohmann::json line{{"time", time_of(msg.time)},
                        {"level", spdlog::level::to_string_view(msg.level).data()},
                        {"component", std::string{msg.logger_name.data(), msg.logger_name.size()}}};
    std::string rest;
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && text[i] == ' ')
        ++i;
      auto start = i;
      while (i < text.size() && text[i] != ' ' && text[i] != '=')
        ++i;
      if (i < text.size() && text[i] == '=' && i > start) {
        auto key = std::string{text.substr(start, i - start)};
        std::string value;
        ++i;
        if (i < text.size() && text[i] == '"') {
          for (++i; i < text.size() && text[i] != '"'; ++i)
            value.push_back(text[i] == '\\' && i + 1 < text.size() ? text[++i] : text[i]);
          ++i;
        } else {
          while (i < text.size() && text[i] != ' ')
            value.push_back(text[i++]);
        }
        line[key] = value;
      } else {
        while (i < text.size() && text[i] != ' ')
          ++i;
        if (i > start)
          rest += (rest.empty() ? "" : " ") + std::string{text.substr(start, i - start)};
      }
    }
    if (!rest.empty())
      line["msg"] = rest;
    auto out = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(out.data(), out.data() + out.size());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }

private:
  static std::string time_of(spdlog::log_clock::time_point t) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    auto seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buf[40];
    auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
    return buf;
  }
};

} // namespace

void set_format(const std::string& format) {
  std::lock_guard<std::mutex> guard{mtx};
  if (format == "json")
    sink()->set_formatter(std::make_unique<json_formatter>());
  else
    sink()->set_formatter(text_formatter());
}

void setup(const std::string& level) {
  std::lock_guard<std::mutex> guard{mtx};
  current_level = spdlog::level::from_str(level);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(current_level); });
}

bool known_log_level(const std::string& level) {
  for (auto name : {"trace", "debug", "info", "warn", "warning", "error", "critical", "off"})
    if (level == name)
      return true;
  return false;
}

std::shared_ptr<spdlog::logger> get(const std::string& component) {
  std::lock_guard<std::mutex> guard{mtx};
  if (auto existing = spdlog::get(component))
    return existing;
  auto logger = std::make_shared<spdlog::logger>(component, sink());
  logger->set_level(current_level);
  logger->flush_on(spdlog::level::info);
  spdlog::register_logger(logger);
  return logger;
}

} // namespace kinbox::log
