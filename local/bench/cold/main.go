// Command cold measures cold starts (make bench-cold): the time from the
// first invocation to its response of each function's real bootstrap under
// the Lambda Runtime Interface Emulator, which starts the bootstrap on that
// first invocation, so the figure holds the process start, the function's
// init and its first event. Each bootstrap is built as make build builds it
// (-tags lambda.norpc -trimpath -ldflags='-s -w', static, provided.al2023
// style), for linux/amd64 (the host's architecture, so it runs here).
//
// Each round cold-starts, in a rotating order, a plain Go hello world, an
// SDK-only hello world (config.LoadDefaultConfig and four clients,
// local/bench/cold/sdkhello) and every function with a real sample event
// from events/ (sender: a text to a contact whose window is open, so it is
// sent; media: a job for a document the simulator holds). Every cold start
// runs in a process of its own (this program re-executed) with a local AWS
// emulator, Graph API simulator and core sink of its own (demo tenant
// seeded, no pollers): the embedded emulator's state outlives its server
// within a process, and a sample event handled twice would take its
// duplicate path. Every request the function makes to AWS, Graph or the
// core passes a front that times it.
//
// It prints, per target: the median, min and max first response over the
// rounds and its ratio to the SDK hello world's; the emulator's init and
// invoke phases; the requests of the first event; the endpoint time (the
// time during which at least one of those requests was being answered,
// from its arrival at the front to its response) and the own time (first
// response less endpoint time: process start, init, and everything the
// function does itself, SDK request building, signing, dialling and
// decoding included). Then the init-phase ratios, the own-time ratios,
// the medians in ms, and last the first-response ratios:
//
//	webhook=1.05 inbound=1.10 bridge=1.02 sender=1.20 media=1.08 status=1.07 api=1.12 templates=1.15
//
// Every response is checked: a function error or a failed SQS record
// stops the run, so a figure is never that of a failed start.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/rie"
)

// target is a bootstrap and the event of its first invocation.
type target struct {
	name string
	pkg  string
	// id is the function's logical id, whose environment it gets (the
	// hello worlds get the webhook's).
	id    string
	event func(h *connector.Handle) ([]byte, error)
}

func sampleEvent(path string) func(*connector.Handle) ([]byte, error) {
	return func(*connector.Handle) ([]byte, error) { return os.ReadFile(filepath.Join("events", path)) }
}

var targets = []target{
	{"hello", "./local/bench/cold/hello", "WebhookFunction", sampleEvent("webhook/post_text.json")},
	{"sdk_hello", "./local/bench/cold/sdkhello", "WebhookFunction", sampleEvent("webhook/post_text.json")},
	{"webhook", "./functions/webhook", "WebhookFunction", sampleEvent("webhook/post_text.json")},
	{"inbound", "./functions/inbound", "InboundFunction", sampleEvent("inbound/text.json")},
	{"bridge", "./functions/bridge", "BridgeFunction", sampleEvent("bridge/message_received_text.json")},
	{"sender", "./functions/sender", "SenderFunction", senderEvent},
	{"media", "./functions/media", "MediaFunction", mediaEvent},
	{"status", "./functions/status", "StatusFunction", sampleEvent("status/delivered.json")},
	{"api", "./functions/api", "ApiFunction", sampleEvent("api/send_message.json")},
	{"templates", "./functions/templates", "TemplatesFunction", sampleEvent("templates/scheduled.json")},
}

func main() {
	rounds := flag.Int("n", 5, "rounds (cold starts of each target)")
	only := flag.String("only", "", "comma-separated targets to measure besides the two hello worlds (default all)")
	rieFlag := flag.String("rie", os.Getenv("AWS_LAMBDA_RIE"), "aws-lambda-rie binary (default: PATH, GOPATH/bin, or installed with go install)")
	verbose := flag.Bool("v", false, "print each response, its requests and the function's logs")
	breakdown := flag.Bool("breakdown", false, "print where each target's first response went in its last round: its longest package inits (GODEBUG=inittrace=1, which slows init a little) and each request to AWS, Graph and the core, timed from the invocation")
	// One cold start, run by this program in a process of its own.
	latency := flag.Duration("latency", 0, "answer every request to AWS, Graph and the core this much later, as a network and a service would (AWS answers in 2–20 ms): what overlapping a cold start's calls is worth")
	one := flag.String("one", "", "internal: cold-start this target once and print its sample as JSON")
	bootstrap := flag.String("bootstrap", "", "internal: the bootstrap of -one")
	flag.Parse()
	var err error
	if *one != "" {
		err = child(*one, *bootstrap, *rieFlag, *verbose, *breakdown, *latency)
	} else {
		err = run(*rounds, *only, *rieFlag, *verbose, *breakdown, *latency)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-cold:", err)
		os.Exit(1)
	}
}

func run(rounds int, only, rieFlag string, verbose, breakdown bool, latency time.Duration) error {
	ctx := context.Background()
	if _, err := os.Stat("template.yaml"); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	chosen := targets
	if only != "" {
		want := strings.Split(only, ",")
		chosen = slices.DeleteFunc(slices.Clone(targets), func(t target) bool {
			return t.name != "hello" && t.name != "sdk_hello" && !slices.Contains(want, t.name)
		})
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "wacloud-bench-cold-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	rieBin, err := rie.Find(ctx, rieFlag, os.Stderr)
	if err != nil {
		return err
	}
	bins := map[string]string{}
	for _, t := range chosen {
		out := filepath.Join(work, t.name, "bootstrap")
		if err := rie.Build(ctx, ".", t.pkg, "amd64", out, true, os.Stderr); err != nil {
			return err
		}
		st, _ := os.Stat(out)
		fmt.Printf("built %-10s %5.1f MB  %s\n", t.name, float64(st.Size())/(1<<20), t.pkg)
		bins[t.name] = out
	}

	samples := map[string][]sample{}
	for r := range rounds {
		// Rotate the order, so no target always runs first or last.
		order := append(slices.Clone(chosen[r%len(chosen):]), chosen[:r%len(chosen)]...)
		for _, t := range order {
			args := []string{"-one", t.name, "-bootstrap", bins[t.name], "-rie", rieBin}
			if verbose {
				args = append(args, "-v")
			}
			if breakdown {
				args = append(args, "-breakdown")
			}
			if latency > 0 {
				args = append(args, "-latency", latency.String())
			}
			cmd := exec.CommandContext(ctx, self, args...)
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, t.name, err)
			}
			var s sample
			if err := json.Unmarshal(out, &s); err != nil {
				return fmt.Errorf("round %d, %s: read its sample: %w", r+1, t.name, err)
			}
			samples[t.name] = append(samples[t.name], s)
		}
		fmt.Printf("round %d/%d done\n", r+1, rounds)
	}
	if breakdown {
		for _, t := range chosen {
			printBreakdown(t.name, samples[t.name][len(samples[t.name])-1])
		}
	}
	report(chosen, samples)
	return nil
}

// report prints the table and the ratio lines.
func report(chosen []target, samples map[string][]sample) {
	med := func(name string, f func(sample) time.Duration) time.Duration {
		var d []time.Duration
		for _, s := range samples[name] {
			d = append(d, f(s))
		}
		return median(d)
	}
	first := func(s sample) time.Duration { return s.First }
	own := func(s sample) time.Duration { return s.Own() }
	initOf := func(s sample) time.Duration { return s.Init }
	sdk, sdkInit := med("sdk_hello", first), med("sdk_hello", initOf)
	fmt.Printf("%-10s %9s %7s %7s %7s %8s %9s %9s %6s %11s %7s %7s\n", "target", "median_ms", "min_ms", "max_ms", "vs_sdk",
		"init_ms", "invoke_ms", "aws_calls", "other", "endpoint_ms", "own_ms", "own_vs")
	var ms, ratios, owns, initRatios []string
	for _, t := range chosen {
		ss := samples[t.name]
		var d []time.Duration
		for _, s := range ss {
			d = append(d, s.First)
		}
		m, last := median(d), ss[len(ss)-1]
		fmt.Printf("%-10s %9.1f %7.1f %7.1f %7.2f %8.1f %9.1f %9d %6d %11.1f %7.1f %7.2f\n", t.name, msOf(m), msOf(slices.Min(d)), msOf(slices.Max(d)),
			float64(m)/float64(sdk), msOf(med(t.name, initOf)), msOf(med(t.name, func(s sample) time.Duration { return s.Invoke })),
			last.count("aws"), last.count("graph")+last.count("core"), msOf(med(t.name, func(s sample) time.Duration { return s.Endpoint })),
			msOf(med(t.name, own)), float64(med(t.name, own))/float64(sdk))
		ms = append(ms, fmt.Sprintf("%s_ms=%.1f", t.name, msOf(m)))
		if t.name != "hello" && t.name != "sdk_hello" {
			ratios = append(ratios, fmt.Sprintf("%s=%.2f", t.name, float64(m)/float64(sdk)))
			owns = append(owns, fmt.Sprintf("%s=%.2f", t.name, float64(med(t.name, own))/float64(sdk)))
			initRatios = append(initRatios, fmt.Sprintf("%s=%.2f", t.name, float64(med(t.name, initOf))/float64(sdkInit)))
		}
	}
	fmt.Println("init phase vs sdk_hello's: " + strings.Join(initRatios, " "))
	fmt.Println("own time (first response less endpoint time) vs sdk_hello's first response: " + strings.Join(owns, " "))
	fmt.Println(strings.Join(ms, " "))
	fmt.Println(strings.Join(ratios, " "))
}

// printBreakdown prints where s's time went.
func printBreakdown(name string, s sample) {
	fmt.Printf("== %s: first response %.1f ms; init %.1f and first event %.1f (the emulator's figures; the rest is the process start and the emulator's own)\n",
		name, msOf(s.First), msOf(s.Init), msOf(s.Invoke))
	if len(s.Inits) > 0 {
		var total time.Duration
		for _, p := range s.Inits {
			total += p.D
		}
		top := slices.Clone(s.Inits)
		slices.SortFunc(top, func(a, b pkgInit) int { return cmp.Compare(b.D, a.D) })
		var names []string
		for _, p := range top[:min(5, len(top))] {
			names = append(names, fmt.Sprintf("%s %.2f", p.Pkg, msOf(p.D)))
		}
		fmt.Printf("   package inits %.2f ms in all (%d packages); longest: %s\n", msOf(total), len(s.Inits), strings.Join(names, ", "))
	}
	fmt.Printf("   %d requests; endpoint time %.1f ms, own time %.1f ms\n", len(s.Requests), msOf(s.Endpoint), msOf(s.Own()))
	for _, r := range s.Requests {
		fmt.Printf("   +%6.1f ms %6.1f ms  %s\n", msOf(r.Start), msOf(r.End-r.Start), r.Name)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
