package jobsched

// Test hooks: the regression tests of jobsched_test reach these through the names below.

// RootGaveUp is what the root supervisor's give-up calls.
func RootGaveUp(s *Scheduler, reason any) { s.rootGaveUp(reason) }

// PeriodicRetries counts the periodic ticks refused and tried again.
func PeriodicRetries(s *Scheduler) uint64 { return s.periodicRetries.Load() }

// Rescued counts the queued jobs a category's Fifo found in the store that no message brought.
func Rescued(s *Scheduler, category string) int64 { return s.stats[category].Rescued.Load() }

// Parked is the number of jobs a category's Fifo keeps parked on concurrency keys.
func Parked(s *Scheduler, category string) int64 { return s.stats[category].Parked.Load() }

// SetStartedHook sets a function run between an attempt's start write and its registration
// (call before Start).
func SetStartedHook(s *Scheduler, f func(id string)) { s.testHookStarted = f }
