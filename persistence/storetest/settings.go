package storetest

import (
	"testing"

	"github.com/jobsched/jobsched/persistence"
	"github.com/stretchr/testify/require"
)

// testSettings: settings are stored, replaced and deleted by key; an empty key is refused.
func testSettings(t *testing.T, s persistence.Store) {
	got, err := s.Settings(ctx)
	require.NoError(t, err)
	require.Empty(t, got)
	require.NoError(t, s.PutSetting(ctx, "category/a", []byte(`{"priority":2}`)))
	require.NoError(t, s.PutSetting(ctx, "category/b", []byte(`{}`)))
	require.NoError(t, s.PutSetting(ctx, "category/a", []byte(`{"priority":3}`)))
	require.ErrorIs(t, s.PutSetting(ctx, "", []byte(`{}`)), persistence.ErrBadSettingKey)
	got, err = s.Settings(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"category/a": []byte(`{"priority":3}`), "category/b": []byte(`{}`)}, got)
	require.NoError(t, s.DeleteSetting(ctx, "category/b"))
	require.NoError(t, s.DeleteSetting(ctx, "no-such-key"), "deleting a missing key is no error")
	got, err = s.Settings(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"category/a": []byte(`{"priority":3}`)}, got)
}
