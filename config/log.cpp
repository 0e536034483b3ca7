#include "config/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

namespace kinbox::log {

namespace {

std::mutex mtx;
spdlog::sink_ptr shared_sink;
spdlog::level::level_enum current_level = spdlog::level::info;

spdlog::sink_ptr sink() {
  if (!shared_sink) {
    shared_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    shared_sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %l [%n] %v", spdlog::pattern_time_type::utc));
  }
  return shared_sink;
}

} // namespace

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
