package persistence

import "time"

// Interrupted is the transition of a job whose attempt was cut off from outside (its process
// stopped, or its node lost its lease): the attempt counts, since it may have been the job that
// killed the process, so a job that keeps doing so ends dead instead of looping forever. The job
// goes back to its queue, or ends dead on its last attempt, or cancelled if a cancel was asked.
// why completes the error kept on the attempt ("interrupted: " + why). Both stores and the
// scheduler's start-up recovery apply it.
func Interrupted(now time.Time, why string) Mutator {
	return func(j *Job) error {
		if j.State != StateRunning {
			return ErrSkip
		}
		j.Errors = append(j.Errors, AttemptError{Attempt: j.Attempt, At: now, Error: "interrupted: " + why})
		switch {
		case j.CancelRequested:
			j.State, j.FinishedAt = StateCancelled, &now
		case j.Attempt >= j.MaxAttempts:
			j.State, j.FinishedAt = StateDead, &now
		default:
			j.State = StateQueued
		}
		return nil
	}
}
