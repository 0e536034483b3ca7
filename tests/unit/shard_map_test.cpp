#define CAF_SUITE shard_map
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <map>

#include "cluster/shard_map.hpp"

using namespace kinbox;

CAF_TEST(one node owns every shard) {
  shard_map map{256, {"node1"}};
  CAF_CHECK_EQUAL(map.owned_by("node1").size(), 256u);
  CAF_CHECK_EQUAL(map.owner(17), "node1");
}

CAF_TEST(entities spread over shards and shards over nodes) {
  shard_map map{256, {"a", "b", "c"}};
  std::map<uint32_t, int> per_shard;
  for (uint64_t id = 1000000000; id < 1000010000; ++id)
    per_shard[map.shard_of(entity_kind::user, id)]++;
  CAF_CHECK_EQUAL(per_shard.size(), 256u);
  size_t total = 0;
  for (auto n : {"a", "b", "c"}) {
    auto owned = map.owned_by(n).size();
    CAF_CHECK_GREATER(owned, 50u);
    total += owned;
  }
  CAF_CHECK_EQUAL(total, 256u);
}

CAF_TEST(a joining node takes shards only from others and about a fair share) {
  shard_map before{256, {"a", "b", "c"}};
  shard_map after{256, {"a", "b", "c", "d"}};
  size_t moved = 0;
  for (uint32_t s = 0; s < 256; ++s)
    if (before.owner(s) != after.owner(s)) {
      CAF_CHECK_EQUAL(after.owner(s), "d");
      ++moved;
    }
  CAF_CHECK_GREATER(moved, 30u);
  CAF_CHECK_LESS(moved, 100u);
}
