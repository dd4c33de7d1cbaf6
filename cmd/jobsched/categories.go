package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jobsched/jobsched/internal/client"
	"github.com/jobsched/jobsched/internal/httpapi"
	"github.com/spf13/cobra"
)

// addCategoryCommands adds the commands that change categories at runtime.
func addCategoryCommands(root *cobra.Command) {
	root.AddCommand(newSetCategory(), newDeleteCategory())
}

func newSetCategory() *cobra.Command {
	var cf clientFlags
	var set httpapi.CategorySettings
	var minWorkers int
	cmd := &cobra.Command{
		Use:   "set-category NAME",
		Short: "Create a category, or change its settings, while the daemon runs (stored: it survives a restart)",
		Long: `Create a category, or replace its settings, while the daemon runs. A setting not given
takes its default (as in the configuration file). The change is stored: it survives a restart
and wins over the configuration file's entry of that name.

  jobsched set-category reports --priority 2 --max-workers 8
  jobsched set-category nightly --min-workers 0 --rate-limit 5`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if cmd.Flags().Changed("min-workers") {
				set.MinWorkers = &minWorkers
			}
			type answer struct {
				Created  bool                 `json:"created"`
				Category httpapi.CategoryJSON `json:"category"`
			}
			return show(cmd, &cf, func(c *client.Client, ctx context.Context) (answer, error) {
				cat, created, err := c.PutCategory(ctx, a[0], set)
				if err != nil {
					return answer{}, err
				}
				return answer{Created: created, Category: *cat}, nil
			}, func(w io.Writer, an answer) error {
				verb := "changed"
				if an.Created {
					verb = "created"
				}
				c := an.Category
				_, err := fmt.Fprintf(w, "%s %s: priority=%d min_workers=%d max_workers=%d queue_limit=%d rate_limit=%g\n",
					verb, c.Name, c.Priority, c.MinWorkers, c.MaxWorkers, c.QueueLimit, c.RateLimit)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.IntVar(&set.Priority, "priority", 0, "weight in the balancer (default 1)")
	f.IntVar(&minWorkers, "min-workers", 1, "workers kept while idle (0: none)")
	f.IntVar(&set.MaxWorkers, "max-workers", 0, "workers never exceeded (default: the budget)")
	f.IntVar(&set.QueueLimit, "queue-limit", 0, "jobs waiting before enqueue is refused (default 1,000,000)")
	f.Float64Var(&set.RateLimit, "rate-limit", 0, "jobs started per second (0: unlimited)")
	f.IntVar(&set.RateBurst, "rate-burst", 0, "starts at once after a quiet spell (default: the rate rounded up)")
	cf.bind(cmd)
	return cmd
}

func newDeleteCategory() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "delete-category NAME",
		Short: "Remove a category that holds no unfinished job (stored: it stays removed after a restart)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return show(cmd, &cf, func(c *client.Client, ctx context.Context) (map[string]string, error) {
				if err := c.DeleteCategory(ctx, a[0]); err != nil {
					return nil, err
				}
				return map[string]string{"deleted": a[0]}, nil
			}, func(w io.Writer, m map[string]string) error {
				_, err := fmt.Fprintf(w, "deleted category %s\n", m["deleted"])
				return err
			})
		},
	}
	cf.bind(cmd)
	return cmd
}
