package persistence

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestListFiltersByKind(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	_, err = s.Insert(ctx, []*Job{
		{ID: "a", Kind: "mail", Category: "c", State: StateDead},
		{ID: "b", Kind: "sms", Category: "c", State: StateDead},
		{ID: "c", Kind: "mail", Category: "d", State: StateQueued},
		{ID: "d", Kind: "mail", Category: "c", State: StateQueued},
	})
	require.NoError(t, err)
	page, _, err := s.List(ctx, ListOptions{Kind: "mail"})
	require.NoError(t, err)
	require.Equal(t, []string{"d", "c", "a"}, ids(page))
	page, _, err = s.List(ctx, ListOptions{Kind: "mail", Category: "c", State: StateDead})
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, ids(page))
	page, next, err := s.List(ctx, ListOptions{Kind: "mail", Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"d"}, ids(page))
	page, _, err = s.List(ctx, ListOptions{Kind: "mail", Limit: 5, Cursor: next})
	require.NoError(t, err)
	require.Equal(t, []string{"c", "a"}, ids(page))
}
