// Structured one-line logs: time, level, component, event. Callers log ids, sizes and
// error codes only; message content, keys, PINs and locations never reach a log line.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace kinbox::log {

/// Sets the level of every component logger ("trace" … "off"). Call once before spawning.
void setup(const std::string& level);

/// The logger of one component ("gateway", "store", "cluster", …), made on first use.
std::shared_ptr<spdlog::logger> get(const std::string& component);

} // namespace kinbox::log
