#include "actors/caf_setup.hpp"

#include "config/caf_error.hpp"

namespace kinbox {

void add_kinbox_error_renderer(caf::actor_system_config& cfg) {
  cfg.add_error_category(error_category,
                         [](uint8_t code, caf::atom_value, const caf::message&) -> std::string {
                           return "kinbox::" + std::string{errc_name(static_cast<errc>(code))};
                         });
}

} // namespace kinbox
