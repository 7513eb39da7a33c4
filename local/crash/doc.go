// Package crash holds the crash-point test: the connector's AWS emulator,
// API front, Graph simulator and core sink in the test process, and the
// sender, bridge and inbound functions each in a process of its own (the
// test binary run again, see TestMain), killed at chosen points mid-batch
// (shared/crashpoint) and started again. It exists only to test.
package crash
