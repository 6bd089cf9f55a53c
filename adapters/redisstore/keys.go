package redisstore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/eventfold/eventfold/readmodel"
)

// Key layout. For a namespace (P, V, T) and the store's prefix, every key
// starts with the namespace's base
//
//	<prefix>{<esc P>:<esc V>:<esc T>}:
//
// or, for partition K of a partitioned read model,
//
//	<prefix>{<esc P>:<esc V>:<esc T>:<esc K>}:
//	<prefix>{<esc P>:<esc V>:<esc T>:<esc K>:<salt>}:
//
// the salt, a decimal number, placing partition "k/n" in the k-th of n
// equal ranges of hash slots (partitionTag).
// followed by
//
//	m               hash: "init" (set by every Apply), "cp" (the checkpoint)
//	d:<esc id>      hash: "r" (revision), "v" (data, absent in a tombstone),
//	                "x" (the document's index entries, msgpack)
//	i:<esc index>   sorted set, all scores 0: entry keys (readmodel.EntryKey)
//
// esc percent-encodes every byte outside [0-9A-Za-z_.-], '%' included, so
// its output never holds ':', '{', '}' or a glob character. That makes the
// encoding injective: the braces and colons that structure a key cannot
// come from user data, and each (namespace, id) or (namespace, index) maps
// to its own key. The part in braces is the Redis Cluster hash tag: every
// key of a namespace hashes to the same slot, which the atomic scripts
// need. The Lua scripts rebuild document keys with the same escaping.

func esc(s string) string {
	const hex = "0123456789ABCDEF"
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		clean = safeByte(s[i])
	}
	if clean {
		return s // the usual case: nothing to escape, nothing to allocate
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safeByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func safeByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || c == '.' || c == '-'
}

// base returns the prefix of every key of ns. A partition's hash tag has a
// fourth part, so each partition of a read model hashes to a slot of its
// own.
func (s *Store) base(ns readmodel.Namespace) string {
	tag := esc(ns.Projection) + ":" + esc(ns.Version) + ":" + esc(ns.Tenant)
	if ns.Partition != "" {
		tag = s.partitionTag(tag+":"+esc(ns.Partition), ns.Partition)
	}
	return s.prefix + "{" + tag + "}:"
}

// partitionTag returns the hash tag of a partition. For partition "k/n"
// (readmodel.Namespace.WithPartition) it appends, when needed, the smallest
// salt ":<s>" that puts the tag's slot in the k-th of n equal ranges of the
// cluster's 16384 slots: redis-cli --cluster create gives each master an
// equal run of slots, so n partitions, n a multiple of the masters, spread
// evenly over them. A fifth part never comes from escaped user data, so a
// salted tag cannot be another namespace's. The search takes about n
// CRC16s and is done once per partition.
func (s *Store) partitionTag(tag, partition string) string {
	k, n, ok := splitPartition(partition)
	if !ok || n > clusterSlots {
		return tag
	}
	lo, hi := k*clusterSlots/n, (k+1)*clusterSlots/n
	if salted, ok := s.tags.Load(tag); ok {
		return salted.(string)
	}
	salted := tag
	for salt := 0; ; salt++ {
		if slot := int(crc16(salted)) % clusterSlots; slot >= lo && slot < hi {
			break
		}
		salted = tag + ":" + strconv.Itoa(salt)
	}
	s.tags.Store(tag, salted)
	return salted
}

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// splitPartition parses "k/n" with 0 <= k < n.
func splitPartition(p string) (k, n int, ok bool) {
	a, b, found := strings.Cut(p, "/")
	k, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !found || err1 != nil || err2 != nil || k < 0 || k >= n || strconv.Itoa(k) != a || strconv.Itoa(n) != b {
		return 0, 0, false
	}
	return k, n, true
}

// crc16 is the CRC16-CCITT (XMODEM) Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func metaKey(base string) string         { return base + "m" }
func docKey(base, id string) string      { return base + "d:" + esc(id) }
func indexKey(base, index string) string { return base + "i:" + esc(index) }

// encodeRevision writes r as 32 lowercase hex digits (commit, then
// sequence), the form the scripts compare. It runs once per write, so it
// avoids fmt.
func encodeRevision(r readmodel.Revision) string {
	var b [32]byte
	putRevision(b[:], r)
	return string(b[:])
}

// putRevision writes r's 32 hex digits into b.
func putRevision(b []byte, r readmodel.Revision) {
	const digits = "0123456789abcdef"
	for i, v := range [2]uint64{r.Commit, r.Sequence} {
		for j := 16*i + 15; j >= 16*i; j-- {
			b[j] = digits[v&15]
			v >>= 4
		}
	}
}

// writeHead is the Apply script's head argument of w: its revision, op
// ("p" or "d") and number of index entries, in one string.
func writeHead(w readmodel.Write) string {
	b := make([]byte, 33, 40)
	putRevision(b, w.Revision)
	b[32] = 'p'
	if w.Delete {
		b[32] = 'd'
	}
	b = strconv.AppendInt(b, int64(len(w.Entries)), 10)
	return string(b)
}

func decodeRevision(s string) (readmodel.Revision, error) {
	if len(s) != 32 {
		return readmodel.Revision{}, fmt.Errorf("redisstore: malformed revision %q", s)
	}
	c, err1 := strconv.ParseUint(s[:16], 16, 64)
	q, err2 := strconv.ParseUint(s[16:], 16, 64)
	if err1 != nil || err2 != nil {
		return readmodel.Revision{}, fmt.Errorf("redisstore: malformed revision %q", s)
	}
	return readmodel.Revision{Commit: c, Sequence: q}, nil
}

// globEscape escapes the characters Redis's MATCH patterns treat specially.
func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(s)
}
