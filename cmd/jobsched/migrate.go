package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/spf13/cobra"
)

func newMigrate() *cobra.Command {
	var store string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "migrate --store postgres://...",
		Short: "Apply the PostgreSQL schema migrations",
		Long: `Apply the schema migrations this jobsched carries to a PostgreSQL database, then exit.

"jobsched serve --store postgres://..." applies them at start too; run this first when the
database user of the nodes may not change the schema, or to upgrade before a rolling restart.
The migrations run in one transaction under an advisory lock: running it twice, or beside
starting nodes, applies each migration once. A database migrated by a newer jobsched is refused.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !strings.HasPrefix(store, "postgres://") && !strings.HasPrefix(store, "postgresql://") {
				return usageError{errors.New("--store: want a postgres://... connection string")}
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			applied, err := postgres.MigrateDSN(ctx, store)
			if err != nil {
				return err
			}
			all, err := postgres.Migrations()
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "schema up to date (version %d)\n", all[len(all)-1].Version)
				return nil
			}
			for _, v := range applied {
				for _, m := range all {
					if m.Version == v {
						fmt.Fprintf(cmd.OutOrStdout(), "applied %d %s\n", m.Version, m.Name)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "the database: postgres://user:password@host:port/db")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "give up after this long (waiting for the lock included)")
	return cmd
}
