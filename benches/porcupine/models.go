// SPDX-License-Identifier: MIT OR Apache-2.0

// The sequential models handed to Porcupine, written for this driver.
//
// Each one states the same object, under the same rules, as the model the
// other tool is given for that history, so both search the same problem:
//
//   - casModel: a cas-register per key under Jepsen's (Knossos') rules, as
//     faultline's `cas-register` with `--independent`: a failed operation did
//     not happen (the reader drops it); a read that returned nil says nothing
//     (faultline's NilReads::Unknown); a crashed write or cas gets an
//     "unknown" return at the end of the history, where it may apply or not
//     (an operation that can be ordered last is the same as one that never
//     happened); a crashed read is dropped.
//   - etcdModel: Porcupine's own reading of its etcd logs (one register, nil
//     at first; a failed cas returned false, so the register did not hold its
//     old value; timed-out operations return "unknown" at the end), as in
//     Porcupine's test suite, so this is the benchmark Porcupine publishes.
//   - kvModel: Porcupine's kv benchmark model: one string per key, initially
//     "", get/put/append, partitioned by key, states hashed with FNV-1a.
package main

import (
	"hash/fnv"
	"math"
	"sort"

	"github.com/anishathalye/porcupine"
)

// nilValue stands for Jepsen's nil in integer registers.
const nilValue = math.MinInt64

type regOp uint8

const (
	opRead regOp = iota
	opWrite
	opCas
)

// regInput is a register operation as invoked; key is the
// jepsen.independent key (0 for single-register histories).
type regInput struct {
	key  int64
	op   regOp
	a, b int64 // write: a; cas: a -> b
}

// regOutput is what the operation returned.
type regOutput struct {
	unknown bool  // crashed or timed out: no result known
	ok      bool  // cas: succeeded
	value   int64 // read: the value (nilValue for nil)
}

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

// casModel: see the file comment.
var casModel = porcupine.Model{
	PartitionEvent: partitionEvents(func(v interface{}) interface{} { return v.(regInput).key }),
	Init:           func() interface{} { return int64(nilValue) },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(int64)
		in := input.(regInput)
		out := output.(regOutput)
		switch in.op {
		case opRead:
			return out.unknown || out.value == nilValue || out.value == st, st
		case opWrite:
			return true, in.a
		default:
			if st == in.a {
				return true, in.b
			}
			// Only a crashed cas may meet another value (and leave it).
			return out.unknown, st
		}
	},
	Hash: func(state interface{}) uint64 { return mix(uint64(state.(int64))) },
}

// etcdModel: see the file comment.
var etcdModel = porcupine.Model{
	Init: func() interface{} { return int64(nilValue) },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(int64)
		in := input.(regInput)
		out := output.(regOutput)
		switch in.op {
		case opRead:
			return out.unknown || out.value == st, st
		case opWrite:
			return true, in.a
		default:
			next := st
			if st == in.a {
				next = in.b
			}
			return out.unknown || (st == in.a) == out.ok, next
		}
	},
}

type kvInput struct {
	op    regOp // opRead = get, opWrite = put, opCas = append
	key   string
	value string
}

type kvOutput struct{ value string }

// kvModel: see the file comment.
var kvModel = porcupine.Model{
	PartitionEvent: partitionEvents(func(v interface{}) interface{} { return v.(kvInput).key }),
	Init:           func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(string)
		in := input.(kvInput)
		switch in.op {
		case opRead:
			return output.(kvOutput).value == st, st
		case opWrite:
			return true, in.value
		default:
			return true, st + in.value
		}
	},
	Hash: func(state interface{}) uint64 {
		h := fnv.New64a()
		h.Write([]byte(state.(string)))
		return h.Sum64()
	},
}

// partitionEvents splits a history by the key of each call; a return goes
// with its call. Partitions come out in key order (keys are int64 or string).
func partitionEvents(key func(interface{}) interface{}) func([]porcupine.Event) [][]porcupine.Event {
	return func(history []porcupine.Event) [][]porcupine.Event {
		byKey := map[interface{}][]porcupine.Event{}
		keyOf := map[int]interface{}{}
		for _, e := range history {
			k, seen := keyOf[e.Id]
			if !seen {
				k = key(e.Value)
				keyOf[e.Id] = k
			}
			byKey[k] = append(byKey[k], e)
		}
		keys := make([]interface{}, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			switch a := keys[i].(type) {
			case int64:
				return a < keys[j].(int64)
			default:
				return a.(string) < keys[j].(string)
			}
		})
		out := make([][]porcupine.Event, len(keys))
		for i, k := range keys {
			out[i] = byKey[k]
		}
		return out
	}
}
