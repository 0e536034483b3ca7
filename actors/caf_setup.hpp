// Actor-system configuration shared by the node and the tests: the kinbox error
// category renderer, so CAF prints kinbox errors by name.
#pragma once

#include <caf/actor_system_config.hpp>

namespace kinbox {

void add_kinbox_error_renderer(caf::actor_system_config& cfg);

} // namespace kinbox
