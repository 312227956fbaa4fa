// SPDX-License-Identifier: MIT OR Apache-2.0

// Command porcupine-bench times Porcupine (github.com/anishathalye/porcupine)
// checking histories in memory, parsing excluded: only the call to
// porcupine.CheckEvents is timed. It is faultline's side-by-side reference
// for `cargo run --release -p faultline-checkers --example linear_time`,
// which times faultline on the same files and prints the same lines; run
// both through benches/porcupine.sh.
//
//	porcupine-bench -runs 10 -sim h.edn -kv c50-ok.txt -etcd test_data/jepsen
//
// Cases: "sim" is a jepsen.independent cas-register history (simulate's
// EDN), "kv" one of Porcupine's kv logs, "etcd" all etcd_NNN.log files of a
// directory checked one after another (one time for all). Each case is run
// once untimed, then -runs times after a garbage collection (not timed); the
// line printed gives the verdict(s), the median, and the range, in ms.
// Parallelism is Porcupine's own (a goroutine per partition), bounded by
// GOMAXPROCS, which the line reports.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

type history struct {
	name   string
	model  porcupine.Model
	events []porcupine.Event
}

func main() {
	runs := flag.Int("runs", 10, "timed runs per case")
	sim := flag.String("sim", "", "simulate's cas-register EDN history")
	kv := flag.String("kv", "", "a Porcupine kv log (cNN-ok.txt)")
	etcd := flag.String("etcd", "", "directory of Porcupine's etcd_NNN.log files")
	flag.Parse()
	if *runs < 1 || (*sim == "" && *kv == "" && *etcd == "") {
		fmt.Fprintln(os.Stderr, "usage: porcupine-bench [-runs N] [-sim FILE] [-kv FILE] [-etcd DIR]")
		os.Exit(2)
	}
	if *sim != "" {
		ev, n, err := readSim(*sim)
		check(err)
		run("sim", *runs, n, []history{{filepath.Base(*sim), casModel, ev}})
	}
	if *kv != "" {
		ev, n, err := readKv(*kv)
		check(err)
		run("kv", *runs, n, []history{{filepath.Base(*kv), kvModel, ev}})
	}
	if *etcd != "" {
		files, err := filepath.Glob(filepath.Join(*etcd, "etcd_*.log"))
		check(err)
		var hs []history
		total := 0
		for _, f := range files {
			ev, n, err := readEtcd(f)
			check(err)
			if n == 0 {
				continue // etcd_095.log is empty: no test
			}
			total += n
			hs = append(hs, history{filepath.Base(f), etcdModel, ev})
		}
		run("etcd", *runs, total, hs)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "porcupine-bench:", err)
		os.Exit(1)
	}
}

// run times checking every history of a case, runs times, and prints one line.
func run(name string, runs, ops int, hs []history) {
	verdicts := make([]bool, len(hs))
	once := func() time.Duration {
		start := time.Now()
		for i, h := range hs {
			verdicts[i] = porcupine.CheckEvents(h.model, h.events)
		}
		return time.Since(start)
	}
	once()
	first := append([]bool(nil), verdicts...)
	times := make([]float64, runs)
	for r := range times {
		runtime.GC()
		times[r] = float64(once().Microseconds()) / 1000
		for i := range verdicts {
			if verdicts[i] != first[i] {
				fmt.Fprintf(os.Stderr, "porcupine-bench: %s: verdict changed between runs\n", hs[i].name)
				os.Exit(1)
			}
		}
	}
	sort.Float64s(times)
	valid := 0
	for _, v := range first {
		if v {
			valid++
		}
	}
	threads := runtime.GOMAXPROCS(0)
	fmt.Printf("porcupine %s: %d histories, %d ops, %d linearizable; threads %d; median %.1f ms, range %.1f-%.1f ms, n=%d\n",
		name, len(hs), ops, valid, threads, median(times), times[0], times[len(times)-1], runs)
	fmt.Printf("  times porcupine %s %d:", name, threads)
	for _, t := range times {
		fmt.Printf(" %.2f", t)
	}
	fmt.Println()
	if name == "etcd" {
		for i, h := range hs {
			fmt.Printf("  verdict %s %t\n", h.name, first[i])
		}
	}
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
