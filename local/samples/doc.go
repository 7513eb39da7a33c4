// Package samples keeps the sample events under events/ honest: its test
// feeds every file to its function's handler (directory name → function),
// built with Setup and the template's environment against the embedded AWS
// emulator with the demo tenant seeded, checks the outcome declared in
// events/expect.json, and scans everything the handlers logged for the demo
// secrets. The signed webhook, inbound and bridge samples are written by
// `go run ./local/samples/gen`. It exists only for tests.
package samples
