package kinds

import (
	"context"
	"testing"
)

func BenchmarkSleepZero(b *testing.B) {
	j := job("sleep", `{"ms":0,"fail_rate":0,"panic_rate":0,"seed":123456789}`, 1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, _ = Sleep(context.Background(), j)
	}
}
