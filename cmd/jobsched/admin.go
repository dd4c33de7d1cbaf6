package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/client"
	"github.com/spf13/cobra"
)

// addAdminCommands adds the job admin commands: retry, delete, retry-all, cancel-all.
func addAdminCommands(root *cobra.Command) {
	root.AddCommand(newRetry(), newDelete(), newBulk(true), newBulk(false))
}

func newRetry() *cobra.Command {
	var dependents bool
	cmd := jobCommand("retry ID", "Run a dead, cancelled, retrying or scheduled job again now (attempts kept, one more if spent)",
		func(c *client.Client, ctx context.Context, id string) (*jobsched.Job, error) {
			if dependents {
				return c.RetryDependents(ctx, id)
			}
			return c.Retry(ctx, id)
		})
	cmd.Flags().BoolVar(&dependents, "dependents", false, "also bring back, as pending, the jobs its failure cancelled (and theirs)")
	return cmd
}

func newDelete() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a finished job (succeeded, dead or cancelled)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return show(cmd, &cf, func(c *client.Client, ctx context.Context) (map[string]string, error) {
				if err := c.Delete(ctx, a[0]); err != nil {
					return nil, err
				}
				return map[string]string{"deleted": a[0]}, nil
			}, func(w io.Writer, m map[string]string) error {
				_, err := fmt.Fprintf(w, "deleted %s\n", m["deleted"])
				return err
			})
		},
	}
	cf.bind(cmd)
	return cmd
}

// newBulk is retry-all or cancel-all: a filter of category, kind and state, and the count.
func newBulk(retry bool) *cobra.Command {
	var cf clientFlags
	var f jobsched.Filter
	var state string
	use, short, verb := "cancel-all", "Cancel every unfinished job of a category, kind or state", "cancelled"
	long := `Cancel every job the filter selects (at least one of --category, --kind, --state).

  jobsched cancel-all --category reports --state scheduled`
	defState := ""
	call := (*client.Client).CancelWhere
	if retry {
		use, short, verb = "retry-all", "Retry every dead job (or those of --state) of a category or kind", "retried"
		long = `Retry every job the filter selects: dead jobs unless --state says otherwise
(dead, cancelled, retrying or scheduled). Each runs again now, its attempts kept.

  jobsched retry-all --category email              # after the mail server is fixed
  jobsched retry-all --kind http --state cancelled`
		defState = string(jobsched.StateDead)
		call = (*client.Client).RetryWhere
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long, Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.State = jobsched.State(state)
			return show(cmd, &cf, func(c *client.Client, ctx context.Context) (map[string]int, error) {
				n, err := call(c, ctx, f)
				if err != nil {
					return nil, err
				}
				return map[string]int{"count": n}, nil
			}, func(w io.Writer, m map[string]int) error {
				_, err := fmt.Fprintf(w, "%s %d jobs\n", verb, m["count"])
				return err
			})
		},
	}
	cf.bind(cmd)
	// A bulk operation over millions of jobs takes a while (200,000 jobs: 5-10 s); leaving early
	// stops it between pages, so give it time by default.
	to := cmd.Flags().Lookup("timeout")
	if err := to.Value.Set("5m"); err != nil {
		panic(err) // a constant that parses
	}
	to.DefValue = to.Value.String()
	cmd.Flags().StringVar(&f.Category, "category", "", "only this category")
	cmd.Flags().StringVar(&f.Kind, "kind", "", "only this kind")
	cmd.Flags().StringVar(&state, "state", defState, "only this state")
	return cmd
}
