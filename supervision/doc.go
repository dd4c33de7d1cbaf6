// Package supervision brings OTP supervision to protoactor-go.
//
// A supervisor is declared as a Spec: its children in start order, a Strategy (OneForOne,
// OneForAll, RestForOne), a restart intensity (at most Intensity restarts within Period) and, per
// child, a Restart type (Permanent, Transient, Temporary). Props(spec) gives the protoactor-go
// props of the supervisor actor.
//
// What differs from protoactor-go's own strategies, and why:
//   - Children start in order, each ready before the next. A child is ready once it has handled
//     *actor.Started, or, for a child that implements ReadySignaler (supervisors do), once it
//     calls Ready. A supervisor is ready when its last child is.
//   - RestForOne exists: when a child fails, it and every child started after it restart, in
//     start order, each ready before the next.
//   - Past the intensity, the supervisor escalates to its parent, as OTP does; protoactor-go's
//     OneForOne would stop the child instead. The parent's strategy then restarts the supervisor,
//     which starts its children afresh.
//   - A Tree records every supervised actor (name, PID, role, status, restarts) for a live view.
//
// A restarted actor keeps its PID and its mailbox, so siblings holding its PID reach the new
// incarnation; the message it panicked on is dropped, so state worth keeping belongs in a store.
package supervision
