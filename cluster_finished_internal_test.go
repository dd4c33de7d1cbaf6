package jobsched

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// The stream's queue of finishes elsewhere holds at most streamPending ids: more drop the
// oldest and count them; a read takes at most streamBatch, oldest first; waited ids are never
// dropped.
func TestFinishedQueueStreamIsBounded(t *testing.T) {
	var q finishedQueue
	for i := range streamPending + 5 {
		q.addStream(fmt.Sprint(i))
	}
	q.add("waited")
	require.Equal(t, uint64(5), q.dropped.Load())
	ids, more := q.takeStream(streamBatch)
	require.Len(t, ids, streamBatch)
	require.True(t, more)
	require.Equal(t, "5", ids[0], "the oldest were dropped")
	require.Equal(t, []string{"waited"}, q.take())
	total := len(ids)
	for more {
		ids, more = q.takeStream(streamBatch)
		total += len(ids)
	}
	require.Equal(t, streamPending, total)
	require.Equal(t, fmt.Sprint(streamPending+4), ids[len(ids)-1], "the newest are kept")

	q.addStream("x")
	q.clearStream()
	ids, more = q.takeStream(streamBatch)
	require.Empty(t, ids)
	require.False(t, more)
	require.Equal(t, uint64(5), q.dropped.Load(), "ids nobody listened for are not counted as dropped")
}
