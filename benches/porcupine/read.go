// SPDX-License-Identifier: MIT OR Apache-2.0

// Readers for the three history formats timed here, written for this driver
// (parsing is not timed). Each reader pairs invocations with completions by
// process and yields operations; events() lays them out as Porcupine events
// in history order, operations that never returned closed at the end.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// op is one operation: positions of its call and return lines (ret < 0: it
// never returned, and returns "unknown" after everything else).
type op struct {
	proc      int
	call, ret int
	input     interface{}
	output    interface{}
}

// events turns operations into Porcupine's event form, in position order.
func events(ops []op, end int) []porcupine.Event {
	type at struct {
		pos int
		ev  porcupine.Event
	}
	list := make([]at, 0, 2*len(ops))
	open := 0
	for id, o := range ops {
		list = append(list, at{o.call, porcupine.Event{ClientId: o.proc, Kind: porcupine.CallEvent, Value: o.input, Id: id}})
		ret := o.ret
		if ret < 0 {
			ret = end + open
			open++
		}
		list = append(list, at{ret, porcupine.Event{ClientId: o.proc, Kind: porcupine.ReturnEvent, Value: o.output, Id: id}})
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].pos < list[j].pos })
	out := make([]porcupine.Event, len(list))
	for i, a := range list {
		out[i] = a.ev
	}
	return out
}

func lines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

func regValue(s string) (int64, error) {
	if s == "nil" {
		return nilValue, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

var simLine = regexp.MustCompile(`^\{:index \d+, :time \d+, :type :(\w+), :process (\d+), :f :(\w+), :value \[(-?\d+) (.*)\]\}$`)

// readSim reads simulate's Jepsen EDN (jepsen.independent `[key value]`
// tuples) under Jepsen's rules: see casModel.
func readSim(path string) ([]porcupine.Event, int, error) {
	ls, err := lines(path)
	if err != nil {
		return nil, 0, err
	}
	var ops []op
	keep := []bool{}
	pending := map[int]int{} // process -> index in ops
	for n, l := range ls {
		m := simLine.FindStringSubmatch(l)
		if m == nil {
			return nil, 0, fmt.Errorf("%s:%d: unexpected line %q", path, n+1, l)
		}
		proc, _ := strconv.Atoi(m[2])
		key, _ := strconv.ParseInt(m[4], 10, 64)
		switch m[1] {
		case "invoke":
			in := regInput{key: key}
			switch m[3] {
			case "read":
				in.op = opRead
			case "write":
				in.op = opWrite
				if in.a, err = regValue(m[5]); err != nil {
					return nil, 0, err
				}
			case "cas":
				in.op = opCas
				ab := strings.Fields(strings.Trim(m[5], "[]"))
				if len(ab) != 2 {
					return nil, 0, fmt.Errorf("%s:%d: bad cas %q", path, n+1, m[5])
				}
				if in.a, err = regValue(ab[0]); err != nil {
					return nil, 0, err
				}
				if in.b, err = regValue(ab[1]); err != nil {
					return nil, 0, err
				}
			default:
				return nil, 0, fmt.Errorf("%s:%d: unknown :f %s", path, n+1, m[3])
			}
			pending[proc] = len(ops)
			ops = append(ops, op{proc: proc, call: n, ret: -1, input: in, output: regOutput{unknown: true}})
			keep = append(keep, true)
		default:
			i, ok := pending[proc]
			if !ok {
				return nil, 0, fmt.Errorf("%s:%d: completion without invocation", path, n+1)
			}
			delete(pending, proc)
			switch m[1] {
			case "ok":
				out := regOutput{ok: true}
				if m[3] == "read" {
					if out.value, err = regValue(m[5]); err != nil {
						return nil, 0, err
					}
				}
				ops[i].ret, ops[i].output = n, out
			case "fail":
				keep[i] = false // did not happen
			default: // info: crashed; a crashed read cannot matter
				keep[i] = ops[i].input.(regInput).op != opRead
			}
		}
	}
	for _, i := range pending { // never completed: as info
		keep[i] = ops[i].input.(regInput).op != opRead
	}
	kept := ops[:0]
	for i, o := range ops {
		if keep[i] {
			kept = append(kept, o)
		}
	}
	return events(kept, len(ls)), len(ops), nil // ops: invocations in the file
}

var kvLine = regexp.MustCompile(`^\{:process (\d+), :type :(\w+), :f :(\w+), :key "([^"]*)", :value (nil|"(.*)")\}$`)

// readKv reads Porcupine's kv logs (cNN-ok.txt, cNN-bad.txt).
func readKv(path string) ([]porcupine.Event, int, error) {
	ls, err := lines(path)
	if err != nil {
		return nil, 0, err
	}
	var ops []op
	pending := map[int]int{}
	for n, l := range ls {
		m := kvLine.FindStringSubmatch(l)
		if m == nil {
			return nil, 0, fmt.Errorf("%s:%d: unexpected line %q", path, n+1, l)
		}
		proc, _ := strconv.Atoi(m[1])
		if m[2] == "invoke" {
			in := kvInput{key: m[4], value: m[6]}
			switch m[3] {
			case "get":
				in.op = opRead
			case "put":
				in.op = opWrite
			case "append":
				in.op = opCas
			default:
				return nil, 0, fmt.Errorf("%s:%d: unknown :f %s", path, n+1, m[3])
			}
			pending[proc] = len(ops)
			ops = append(ops, op{proc: proc, call: n, ret: -1, input: in, output: kvOutput{}})
			continue
		}
		i, ok := pending[proc]
		if !ok || m[2] != "ok" {
			return nil, 0, fmt.Errorf("%s:%d: unexpected completion", path, n+1)
		}
		delete(pending, proc)
		ops[i].ret = n
		if m[3] == "get" {
			ops[i].output = kvOutput{value: m[6]}
		}
	}
	return events(ops, len(ls)), len(ops), nil
}

var etcdLine = regexp.MustCompile(`^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(\w+)\s+:(\w+)\s+(.*)$`)

// readEtcd reads a Jepsen text log of Porcupine's etcd corpus the way
// Porcupine's tests do: see etcdModel.
func readEtcd(path string) ([]porcupine.Event, int, error) {
	ls, err := lines(path)
	if err != nil {
		return nil, 0, err
	}
	var ops []op
	pending := map[int]int{}
	for n, l := range ls {
		m := etcdLine.FindStringSubmatch(l)
		if m == nil {
			continue // not an operation
		}
		proc, _ := strconv.Atoi(m[1])
		val := strings.TrimSpace(m[4])
		if m[2] == "invoke" {
			in := regInput{}
			switch m[3] {
			case "read":
				in.op = opRead
			case "write":
				in.op = opWrite
				if in.a, err = regValue(val); err != nil {
					return nil, 0, err
				}
			case "cas":
				in.op = opCas
				ab := strings.Fields(strings.Trim(val, "[]"))
				if len(ab) != 2 {
					return nil, 0, fmt.Errorf("%s:%d: bad cas %q", path, n+1, val)
				}
				if in.a, err = regValue(ab[0]); err != nil {
					return nil, 0, err
				}
				if in.b, err = regValue(ab[1]); err != nil {
					return nil, 0, err
				}
			}
			pending[proc] = len(ops)
			ops = append(ops, op{proc: proc, call: n, ret: -1, input: in, output: regOutput{unknown: true}})
			continue
		}
		i, ok := pending[proc]
		if !ok {
			continue
		}
		switch {
		case val == ":timed-out" && m[2] == "fail":
			// a timed-out read: returns here, result unknown
			delete(pending, proc)
			ops[i].ret = n
		case val == ":timed-out":
			// info: never returns (closed, unknown, at the end)
			delete(pending, proc)
		case m[2] == "ok" || m[2] == "fail":
			delete(pending, proc)
			out := regOutput{ok: m[2] == "ok"}
			if m[3] == "read" {
				if out.value, err = regValue(val); err != nil {
					return nil, 0, err
				}
			}
			ops[i].ret, ops[i].output = n, out
		}
	}
	return events(ops, len(ls)), len(ops), nil
}
