package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// selfSigned writes a certificate for 127.0.0.1 and localhost and its key; the certificate is
// its own CA.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jobsched test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile
}

// With tls_cert and tls_key the daemon serves HTTPS; the CLI and the tester reach it with
// --ca-file, and not without.
func TestDaemonServesTLS(t *testing.T) {
	cert, key := selfSigned(t)
	d := startDaemon(t, "", "tls_cert: "+cert+"\ntls_key: "+key+"\n")
	require.True(t, strings.HasPrefix(d.addr, "https://"), d.addr)

	out, err := exec.Command(binary, "enqueue", "sleep", "--addr", d.addr, "--args", `{"ms":1}`, "--wait", "10s").CombinedOutput()
	require.Error(t, err, "an unknown CA is not trusted")
	require.Contains(t, string(out), "certificate")

	out, err = exec.Command(binary, "enqueue", "sleep", "--addr", d.addr, "--ca-file", cert, "--args", `{"ms":1}`, "--wait", "10s").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "succeeded")

	cmd := exec.Command(binary, "tester", "--addr", d.addr, "--jobs", "100", "--rate", "500", "--duration-ms", "1")
	cmd.Env = append(os.Environ(), "JOBSCHED_CA_FILE="+cert)
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "lost        0")

	out, err = exec.Command(binary, "status", "x", "--addr", d.addr, "--ca-file", filepath.Join(t.TempDir(), "none.pem")).CombinedOutput()
	require.Error(t, err)
	require.Equal(t, 2, err.(*exec.ExitError).ExitCode(), string(out))
}

// Without TLS on a non-loopback address the daemon warns; half a TLS setting is refused.
func TestDaemonWarnsOfPlainHTTPOnTheNetwork(t *testing.T) {
	d := startDaemon(t, "", "", "--listen", "0.0.0.0:0", "--auth-token", "s3cret")
	require.Contains(t, d.logs.String(), "serving plain HTTP on a non-loopback address")

	cert, _ := selfSigned(t)
	out, err := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--tls-cert", cert).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "tls_key")
}
