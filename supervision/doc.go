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
//   - RestForOne exists. As in OTP, when a child fails the affected children (it alone, all,
//     or it and those started after it) first end in reverse start order, each gone before the
//     next, then start again in start order, each ready before the next. A child that fails
//     before it is ready is restarted like any other.
//   - Past the intensity, the supervisor escalates to its parent, as OTP does; protoactor-go's
//     OneForOne would stop the child instead. The parent's strategy then restarts the supervisor,
//     which starts its children afresh. The root supervisor has no parent: it calls
//     Spec.OnGiveUp and stops for good.
//   - Temporary children are never restarted and their exits do not count toward the
//     intensity. A child that ends for good is forgotten with its spec (a pool grown by AddChild
//     shrinks for real).
//   - A Tree records every supervised actor (name, PID, role, status, restarts) for a live view.
//
// A restarted actor keeps its PID and its mailbox, so siblings holding its PID reach the new
// incarnation (between the end of the old incarnation and the start of the new one, a
// placeholder holds the messages that arrive); the message it panicked on is dropped, so state
// worth keeping belongs in a store.
package supervision
