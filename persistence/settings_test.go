package persistence

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSettingsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, s.PutSetting(ctx, "category/a", []byte(`{"priority":2}`)))
	require.NoError(t, s.PutSetting(ctx, "category/b", []byte(`{}`)))
	require.NoError(t, s.PutSetting(ctx, "category/a", []byte(`{"priority":3}`)))
	require.NoError(t, s.DeleteSetting(ctx, "category/b"))
	require.NoError(t, s.DeleteSetting(ctx, "never-there"))
	require.ErrorIs(t, s.PutSetting(ctx, "", nil), ErrBadSettingKey)
	require.NoError(t, s.Close())

	s, err = OpenBadger(BadgerOptions{Dir: dir})
	require.NoError(t, err)
	got, err := s.Settings(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"category/a": []byte(`{"priority":3}`)}, got)
	// Settings are not jobs: the counts and the job list do not see them.
	require.Empty(t, s.Counts())
	jobs, _, err := s.List(ctx, ListOptions{})
	require.NoError(t, err)
	require.Empty(t, jobs)
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.PutSetting(ctx, "x", nil), ErrClosed)
}
