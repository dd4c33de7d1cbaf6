package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/client"
	"github.com/jobsched/jobsched/internal/httpapi"
	"github.com/jobsched/jobsched/supervision"
	"github.com/spf13/cobra"
)

// clientFlags are the flags every client command shares.
type clientFlags struct {
	addr, token string
	caFile      string
	json        bool
	timeout     time.Duration
}

func (f *clientFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.addr, "addr", "http://127.0.0.1:7420", "daemon address")
	cmd.Flags().StringVar(&f.token, "token", "", "bearer token (or JOBSCHED_TOKEN)")
	cmd.Flags().StringVar(&f.caFile, "ca-file", "", "PEM file of the CA (or certificate) to trust for an https:// --addr (or JOBSCHED_CA_FILE)")
	cmd.Flags().BoolVar(&f.json, "json", false, "print JSON instead of a table")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "give up after this long")
}

func (f *clientFlags) client() (*client.Client, error) {
	tok := f.token
	if tok == "" {
		tok = os.Getenv("JOBSCHED_TOKEN")
	}
	c := client.New(f.addr, tok)
	if err := trustCA(c, f.caFile); err != nil {
		return nil, err
	}
	return c, nil
}

// trustCA makes c trust the CA of --ca-file or JOBSCHED_CA_FILE, if either is set; a file that
// cannot be read is a usage error.
func trustCA(c *client.Client, file string) error {
	if file == "" {
		file = os.Getenv("JOBSCHED_CA_FILE")
	}
	if file == "" {
		return nil
	}
	pool, err := client.LoadCA(file)
	if err != nil {
		return usageError{fmt.Errorf("--ca-file: %w", err)}
	}
	c.SetRootCAs(pool)
	return nil
}

func (f *clientFlags) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), f.timeout)
}

func addClientCommands(root *cobra.Command) {
	root.AddCommand(newEnqueue(), newStatus(), newCancel(), newJobs(), newCategories(),
		newPause(false), newPause(true), newTree())
}

// show calls the API with the command's timeout and prints the answer: JSON with --json,
// otherwise text (which may also turn the answer into the command's error).
func show[T any](cmd *cobra.Command, cf *clientFlags, call func(*client.Client, context.Context) (T, error), text func(io.Writer, T) error) error {
	ctx, cancel := cf.ctx()
	defer cancel()
	c, err := cf.client()
	if err != nil {
		return err
	}
	v, err := call(c, ctx)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(cmd.OutOrStdout(), v)
	}
	return text(cmd.OutOrStdout(), v)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printJob(w io.Writer, j *jobsched.Job) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("id", j.ID)
	row("kind", j.Kind)
	row("category", j.Category)
	row("state", string(j.State))
	row("attempt", fmt.Sprintf("%d of %d", j.Attempt, j.MaxAttempts))
	if len(j.Args) > 0 {
		row("args", string(j.Args))
	}
	row("created", j.CreatedAt.Format(time.RFC3339Nano))
	row("run at", j.RunAt.Format(time.RFC3339Nano))
	if j.StartedAt != nil {
		row("started", j.StartedAt.Format(time.RFC3339Nano))
	}
	if j.FinishedAt != nil {
		row("finished", j.FinishedAt.Format(time.RFC3339Nano))
	}
	if j.Progress != nil {
		row("progress", fmt.Sprintf("%.0f%% %s", j.Progress.Percent, j.Progress.Message))
	}
	if len(j.Result) > 0 {
		row("result", string(j.Result))
	}
	for _, e := range j.Errors {
		row(fmt.Sprintf("error #%d", e.Attempt), e.Error)
	}
	tw.Flush()
}

func newEnqueue() *cobra.Command {
	var cf clientFlags
	var spec jobsched.JobSpec
	var args, delay, timeout, runAt string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "enqueue KIND",
		Short: "Enqueue a job",
		Long: `Enqueue a job of KIND and print it. With --wait, wait for it to finish (up to that long);
if this command is interrupted meanwhile, the daemon cancels the job.

  jobsched enqueue sleep --args '{"ms":100}'
  jobsched enqueue http --args '{"url":"http://127.0.0.1:9000/hook"}' --delay 10s`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			spec.Kind = a[0]
			if args != "" {
				if !json.Valid([]byte(args)) {
					return usageError{fmt.Errorf("--args is not valid JSON: %s", args)}
				}
				spec.Args = json.RawMessage(args)
			}
			for _, d := range []struct {
				flag string
				s    string
				to   *jobsched.Duration
			}{{"delay", delay, &spec.Delay}, {"job-timeout", timeout, &spec.Timeout}} {
				if d.s == "" {
					continue
				}
				v, err := time.ParseDuration(d.s)
				if err != nil {
					return usageError{fmt.Errorf("--%s: %w", d.flag, err)}
				}
				*d.to = jobsched.Duration(v)
			}
			if runAt != "" {
				t, err := time.Parse(time.RFC3339, runAt)
				if err != nil {
					return usageError{fmt.Errorf("--run-at: %w", err)}
				}
				spec.RunAt = t
			}
			if wait > 0 && cf.timeout < wait+10*time.Second {
				cf.timeout = wait + 10*time.Second
			}
			return show(cmd, &cf, func(c *client.Client, ctx context.Context) (*jobsched.Job, error) {
				return c.Enqueue(ctx, spec, wait)
			}, func(w io.Writer, j *jobsched.Job) error {
				printJob(w, j)
				if j.State == jobsched.StateDead {
					return fmt.Errorf("job %s is dead", j.ID)
				}
				return nil
			})
		},
	}
	cf.bind(cmd)
	f := cmd.Flags()
	f.StringVar(&spec.Category, "category", "", "category (default: the daemon's first)")
	f.StringVar(&args, "args", "", "args as JSON")
	f.StringVar(&delay, "delay", "", "run after this long (e.g. 30s)")
	f.StringVar(&runAt, "run-at", "", "run at this time (RFC 3339)")
	f.IntVar(&spec.MaxAttempts, "max-attempts", 0, "attempts before the job is dead (default: the kind's)")
	f.StringVar(&timeout, "job-timeout", "", "timeout of one attempt (e.g. 30s)")
	f.StringVar(&spec.UniqueKey, "unique-key", "", "return the unfinished job with this key instead of a new one")
	f.StringVar(&spec.ConcurrencyKey, "concurrency-key", "", "concurrency key")
	f.DurationVar(&wait, "wait", 0, "wait this long for the job to finish")
	return cmd
}

func newStatus() *cobra.Command {
	return jobCommand("status ID", "Show a job", (*client.Client).Get)
}

func newCancel() *cobra.Command {
	return jobCommand("cancel ID", "Cancel a job (a running one has its context cancelled)", (*client.Client).Cancel)
}

// jobCommand is a command that takes a job id, calls the API and prints the job.
func jobCommand(use, short string, call func(*client.Client, context.Context, string) (*jobsched.Job, error)) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return show(cmd, &cf, func(c *client.Client, ctx context.Context) (*jobsched.Job, error) {
				return call(c, ctx, a[0])
			}, func(w io.Writer, j *jobsched.Job) error { printJob(w, j); return nil })
		},
	}
	cf.bind(cmd)
	return cmd
}

func newJobs() *cobra.Command {
	var cf clientFlags
	var opt jobsched.ListOptions
	var state string
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List jobs, newest first",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opt.State = jobsched.State(state)
			return show(cmd, &cf, func(c *client.Client, ctx context.Context) (*httpapi.JobList, error) {
				return c.List(ctx, opt)
			}, func(w io.Writer, page *httpapi.JobList) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tKIND\tCATEGORY\tSTATE\tATTEMPT\tCREATED\tLAST ERROR")
				for _, j := range page.Jobs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", j.ID, j.Kind, j.Category, j.State, j.Attempt, j.MaxAttempts,
						j.CreatedAt.Format(time.DateTime), trimLine(j.LastError(), 60))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if page.NextCursor != "" {
					fmt.Fprintf(w, "more: --cursor %s\n", page.NextCursor)
				}
				return nil
			})
		},
	}
	cf.bind(cmd)
	f := cmd.Flags()
	f.StringVar(&opt.Category, "category", "", "only this category")
	f.StringVar(&opt.Kind, "kind", "", "only this kind")
	f.StringVar(&state, "state", "", "only this state")
	f.IntVar(&opt.Limit, "limit", 20, "jobs per page (at most 1000)")
	f.StringVar(&opt.Cursor, "cursor", "", "the next page after a previous listing")
	return cmd
}

func trimLine(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func newCategories() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "categories",
		Short: "Show the categories: queues, workers, counters",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(cmd, &cf, (*client.Client).Categories, func(w io.Writer, cats []httpapi.CategoryJSON) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tPRIORITY\tQUEUED\tSCHEDULED\tRETRYING\tRUNNING\tWORKERS (busy/allocated)\tSUCCEEDED\tDEAD\tPAUSED")
				for _, c := range cats {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d/%d\t%d\t%d\t%v\n", c.Name, c.Priority, c.Queued, c.Scheduled,
						c.Retrying, c.Running, c.Workers.Busy, c.Workers.Allocated, c.Counters[jobsched.StateSucceeded],
						c.Counters[jobsched.StateDead], c.Paused)
				}
				return tw.Flush()
			})
		},
	}
	cf.bind(cmd)
	return cmd
}

func newPause(resume bool) *cobra.Command {
	var cf clientFlags
	use, short := "pause CATEGORY", "Stop a category from starting jobs (queued jobs stay)"
	if resume {
		use, short = "resume CATEGORY", "Let a paused category start jobs again"
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return show(cmd, &cf, func(c *client.Client, ctx context.Context) (*httpapi.CategoryJSON, error) {
				return c.Pause(ctx, a[0], resume)
			}, func(w io.Writer, c *httpapi.CategoryJSON) error {
				_, err := fmt.Fprintf(w, "%s: paused=%v queued=%d\n", c.Name, c.Paused, c.Queued)
				return err
			})
		},
	}
	cf.bind(cmd)
	return cmd
}

func newTree() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "tree",
		Short: "Show the live supervision tree",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(cmd, &cf, (*client.Client).Tree, func(w io.Writer, root *supervision.Node) error {
				supervision.Walk([]*supervision.Node{root}, func(n *supervision.Node, depth int) {
					extra := ""
					if n.Strategy != "" {
						extra = " (" + n.Strategy + ")"
					}
					fmt.Fprintf(w, "%s%s %s%s  %s  restarts=%d\n", strings.Repeat("  ", depth), n.Role, n.Name, extra, n.Status, n.Restarts)
				})
				return nil
			})
		},
	}
	cf.bind(cmd)
	return cmd
}
