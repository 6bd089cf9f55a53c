package redisstore

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/readmodel"
)

// The hash of the slot is the CRC16 Redis Cluster uses: its check value,
// and the slots Redis documents for two keys.
func TestCRC16IsRedisClusters(t *testing.T) {
	if got := crc16("123456789"); got != 0x31C3 {
		t.Errorf("crc16(123456789) = %#x, want 0x31c3", got)
	}
	for key, slot := range map[string]int{"foo": 12182, "bar": 5061, "somekey": 11058} {
		if got := int(crc16(key)) % clusterSlots; got != slot {
			t.Errorf("slot of %q = %d, want %d", key, got, slot)
		}
	}
}

// Partition k of n hashes into the k-th of n equal slot ranges; other
// partition names keep their plain tag.
func TestPartitionTagsSpreadOverSlotRanges(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never reached
	defer c.Close()
	s, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := readmodel.Namespace{Projection: "accounts", Version: "v1"}
	for _, n := range []int{1, 3, 6, 64} {
		seen := map[string]bool{}
		for k := range n {
			base := s.base(ns.WithPartition(k, n))
			tag := base[len(DefaultPrefix)+1 : len(base)-2]
			slot := int(crc16(tag)) % clusterSlots
			if lo, hi := k*clusterSlots/n, (k+1)*clusterSlots/n; slot < lo || slot >= hi {
				t.Errorf("partition %d/%d: tag %q has slot %d, want one in [%d, %d)", k, n, tag, slot, lo, hi)
			}
			if seen[tag] {
				t.Errorf("partition %d/%d: tag %q used twice", k, n, tag)
			}
			seen[tag] = true
		}
	}
	if got := s.base(readmodel.Namespace{Projection: "a", Partition: "x"}); got != DefaultPrefix+"{a:::x}:" {
		t.Errorf("base of partition x = %q", got)
	}
}
