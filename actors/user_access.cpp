#include "actors/user_access.hpp"

#include <array>
#include <optional>

namespace kinbox {

namespace {

constexpr relations own = static_cast<relations>(relation::self);
constexpr relations own_or_parent = relation::self | relation::parent;

struct row {
  user_op op;
  access_rule rule;
};

// clang-format off
/// Every operation of the user entity, with who may make it.
constexpr std::array rows{
  // From any entity: mail, the friend workflow, and what a child's family tells.
  row{user_op::deliver,          {anyone}},
  row{user_op::friend_request,   {anyone, false, true}},
  row{user_op::friend_accepted,  {anyone, false, true}},
  row{user_op::friend_declined,  {anyone, false, true}},
  row{user_op::friend_removed,   {anyone, false, true}},
  row{user_op::account_gone,     {anyone}},
  row{user_op::child_linked,     {anyone}},  // the family of child `caller`
  row{user_op::child_unlinked,   {anyone}},
  row{user_op::get_profile,      {anyone}},  // seen by relation
  row{user_op::card,             {anyone}},  // only if this account asked the child
  row{user_op::friend_renamed,   {anyone}},  // only from a friend
  row{user_op::relations,        {anyone}},  // a group's chat actor
  row{user_op::group_joined,     {anyone}},
  row{user_op::group_left,       {anyone}},
  row{user_op::typing,           {anyone, false, true}},  // pushed only if approved
  row{user_op::call_in,          {anyone}},  // only from an approved peer of a call
  row{user_op::moment_reaction,  {anyone}},  // only from an approved contact
  // Before the account is there.
  row{user_op::found_account,    {anyone, true}},
  row{user_op::complete_setup,   {anyone, true}},
  row{user_op::redeem_link_code, {anyone, true}},
  // Of a parent, from its linked child's family.
  row{user_op::location,         {static_cast<relations>(relation::child)}},
  row{user_op::ban,              {static_cast<relations>(relation::operator_)}},
  row{user_op::summary,          {static_cast<relations>(relation::operator_)}},
  // The account's own requests; a child's parent oversees its contacts and data.
  row{user_op::list_contacts,    {own_or_parent}},
  row{user_op::block_contact,    {own_or_parent}},
  row{user_op::remove_contact,   {own_or_parent}},
  row{user_op::list_groups,      {own_or_parent, false, false, true}},
  row{user_op::delete_moment,    {own_or_parent}},
  row{user_op::export_account,   {own_or_parent, false, false, true}},
  row{user_op::delete_account,   {own_or_parent}},
  row{user_op::new_setup_code,   {static_cast<relations>(relation::parent)}},
  row{user_op::set_quiet,        {static_cast<relations>(relation::parent)}},
  row{user_op::end_calls,        {static_cast<relations>(relation::parent)}},
  row{user_op::get_quiet,        {own_or_parent, false, false, true}},
  row{user_op::attach,           {own, false, false, true}},
  row{user_op::detach,           {own, false, false, true}},
  row{user_op::ack,              {own, false, false, true}},
  row{user_op::linked,           {own, false, false, true}},  // from its own family
  row{user_op::unlinked,         {own, false, false, true}},
  row{user_op::parent_decision,  {own}},
  row{user_op::add_friend,       {own}},
  row{user_op::accept_friend,    {own}},
  row{user_op::decline_friend,   {own}},
  row{user_op::get_key,          {own}},
  row{user_op::get_status,       {own}},
  row{user_op::report,           {own}},
  row{user_op::set_profile,      {own}},
  row{user_op::create_child,     {own}},
  row{user_op::make_link_code,   {own}},
  row{user_op::call_out,         {own, false, false, true}},  // a frozen child only hangs up
  row{user_op::post_moment,      {own}},
  row{user_op::react_moment,     {own}},
};
// clang-format on

/// The rows by operation number.
constexpr auto table = [] {
  std::array<std::optional<access_rule>, 256> out{};
  for (auto& r : rows)
    out[static_cast<uint8_t>(r.op)] = r.rule;
  return out;
}();

} // namespace

access check_access(uint8_t op, relation r, bool known, bool frozen) {
  auto rule = table[op];
  if (!rule)
    return access::unknown_op;
  if (!known && !rule->before_account)
    return rule->silent_when_unknown ? access::silent_ok : access::not_found;
  if ((rule->who & static_cast<relations>(r)) == 0)
    return access::not_found;
  // The account's own requests stop while it is frozen; what other entities tell it does not.
  bool own_request = (rule->who & static_cast<relations>(relation::other)) == 0;
  if (r == relation::self && frozen && own_request && !rule->when_frozen)
    return access::frozen;
  return access::run;
}

} // namespace kinbox
