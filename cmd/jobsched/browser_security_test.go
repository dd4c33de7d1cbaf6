package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// evilPage tries what a web page can do to a daemon on the developer's machine without asking:
// a text/plain fetch and a body-less POST (no CORS preflight for either), a JSON fetch (which
// needs a preflight), and a form posted into a frame.
const evilPage = `<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="POST" enctype="text/plain" target="sink" action="%[1]s/v1/jobs">
<input name='{"kind":"sleep","args":{"ms":1},"x":"' value='"}'></form>
<script>
(async () => {
  const d = %[1]q;
  try { await fetch(d + '/v1/jobs', {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body: '{"kind":"sleep"}'}); } catch (e) {}
  try { await fetch(d + '/v1/categories/default/pause', {method: 'POST', mode: 'no-cors'}); } catch (e) {}
  try { await fetch(d + '/v1/jobs', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"kind":"sleep"}'}); } catch (e) {}
  document.querySelector('iframe').addEventListener('load', () => { document.title = 'done'; });
  document.getElementById('f').submit();
})();
</script></body></html>`

// TestCrossSitePagesCannotDriveTheDaemon opens, in headless Chromium, a page of another origin
// that posts to the daemon every way a page can, and a DNS name rebound to 127.0.0.1: the daemon
// stores nothing and its category stays unpaused.
func TestCrossSitePagesCannotDriveTheDaemon(t *testing.T) {
	exe := chromium(t)
	d := startDaemon(t, "", "")
	var served atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, evilPage, d.addr)
	}))
	defer evil.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Headless,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		// rebound.test resolves to 127.0.0.1, as an attacker's name would after rebinding.
		chromedp.Flag("host-resolver-rules", "MAP rebound.test 127.0.0.1"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, time.Minute)
	defer cancelT()

	// The other origin's page runs its attempts; the form's frame loads (with the refusal).
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(evil.URL+"/")))
	require.Eventually(t, func() bool {
		title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title`))
		return err == nil && title == "done"
	}, 30*time.Second, 50*time.Millisecond, "the evil page ran")
	require.Positive(t, served.Load())
	requireNothingStored(t, d)
	cats, err := d.client().Categories(context.Background())
	require.NoError(t, err)
	require.False(t, cats[0].Paused, "the page did not pause the category")

	// After rebinding, the attacker's name points at the daemon: its page and its same-origin
	// fetches reach the daemon with a foreign Host, and are refused.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("http://rebound.test:"+d.port(t)+"/")))
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	require.NoError(t, err)
	require.Contains(t, body, "forbidden_host")
	status, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`fetch('/v1/jobs', {method: 'POST',
		headers: {'Content-Type': 'application/json'}, body: '{"kind":"sleep"}'}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.EqualValues(t, 403, status)

	requireNothingStored(t, d)
}
