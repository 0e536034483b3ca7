// Structured one-line logs: time, level, component, event. Callers log ids, sizes and
// error codes only; message content, keys, PINs and locations never reach a log line.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace kinbox::log {

/// Sets the level of every component logger ("trace" … "off"), at start and again when
/// the node is told to (SIGHUP).
void setup(const std::string& level);

/// `text` (time level [component] key=value ...) or `json` (one object per line, each
/// key=value a field). Call once before logging.
void set_format(const std::string& format);

/// Whether `level` is a level's name as the logs print it (trace, debug, info, warning,
/// error, critical, off), or warn.
bool known_log_level(const std::string& level);

/// The logger of one component ("gateway", "store", "cluster", …), made on first use.
std::shared_ptr<spdlog::logger> get(const std::string& component);

} // namespace kinbox::log
