package queue_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"

	"github.com/txworker/txworker/queue"
)

// The worker reaches NATS over TLS with a client certificate, with a token
// and with a creds file (operator mode), against embedded servers that
// require exactly that; without the credentials it does not get in.

// pki is a test certificate authority and the files it issued.
type pki struct {
	dir          string
	ca           *x509.Certificate
	caKey        *ecdsa.PrivateKey
	caFile       string
	serverCert   string
	serverKey    string
	clientCert   string
	clientKey    string
	strangerCA   string // a CA that issued nothing here
	strangerCert string // a client certificate from the stranger CA
	strangerKey  string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	p.ca, p.caKey, p.caFile = selfSignedCA(t, p.dir, "txworker test CA")
	p.serverCert, p.serverKey = p.issue(t, p.ca, p.caKey, "server", x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = p.issue(t, p.ca, p.caKey, "client", x509.ExtKeyUsageClientAuth)
	sca, skey, sfile := selfSignedCA(t, filepath.Join(p.dir, "stranger"), "stranger CA")
	p.strangerCA = sfile
	p.strangerCert, p.strangerKey = p.issue(t, sca, skey, "stranger-client", x509.ExtKeyUsageClientAuth)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func selfSignedCA(t *testing.T, dir, name string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ca.pem")
	writePEM(t, file, "CERTIFICATE", der)
	return cert, key, file
}

// issue writes a certificate for 127.0.0.1/localhost signed by ca and its
// key, and returns both file names.
func (p *pki) issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, usage x509.ExtKeyUsage) (string, string) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(p.dir, name+".pem")
	keyFile := filepath.Join(p.dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startAuthServer starts an embedded JetStream server with opts' security
// settings and returns its client URL.
func startAuthServer(t *testing.T, opts *server.Options) string {
	t.Helper()
	opts.Host = "127.0.0.1"
	opts.Port = server.RANDOM_PORT
	opts.JetStream = true
	opts.StoreDir = t.TempDir()
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return s.ClientURL()
}

// roundTrip provisions through b and publishes an event and a tracking
// message, which must land on their streams.
func roundTrip(t *testing.T, b *queue.Bus) {
	t.Helper()
	ctx := testCtx(t)
	if err := b.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	ev := queue.NewEvent("txworker", "USS3JKS01I00", queue.EventData{CommandID: "tls-1", Action: "cancel-offering", Outcome: "succeeded"}, time.Now())
	if dup, err := b.PublishEvent(ctx, ev, queue.Trace{}); err != nil || dup {
		t.Fatalf("PublishEvent: dup %t, %v", dup, err)
	}
	if err := b.PublishTrack(ctx, queue.Track{CommandID: "tls-1", Action: "cancel-offering", ProcessID: "p", OrchestrationID: "o"}); err != nil {
		t.Fatalf("PublishTrack: %v", err)
	}
	if n := len(streamMsgs(t, b, b.EventsStream(), "")); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
	if !b.Connected() {
		t.Fatal("not connected")
	}
}

// refused checks that Connect with cfg does not get in before a short
// deadline, that its error says why (names one of why) and that it does
// not repeat secret.
func refused(t *testing.T, cfg queue.Config, secret string, why ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := queue.Connect(ctx, cfg, zap.NewNop())
	if err == nil {
		_ = b.Drain()
		t.Fatalf("connected with %+v", cfg)
	}
	if secret != "" && strings.Contains(err.Error(), secret) {
		t.Errorf("the connection error repeats the secret: %v", err)
	}
	t.Logf("refused: %v", err)
	for _, w := range why {
		if strings.Contains(strings.ToLower(err.Error()), w) {
			return
		}
	}
	if len(why) > 0 {
		t.Errorf("the error %q names none of %q", err, why)
	}
}

func TestTLSWithClientCertificate(t *testing.T) {
	p := newPKI(t)
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: p.serverCert, KeyFile: p.serverKey, CaFile: p.caFile, Verify: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	url := startAuthServer(t, &server.Options{TLS: true, TLSConfig: tc, TLSVerify: true, TLSTimeout: 5})
	url = strings.Replace(url, "nats://", "tls://", 1)

	t.Run("CA and client certificate", func(t *testing.T) {
		b := connect(t, url, func(c *queue.Config) {
			c.TLSCA, c.TLSCert, c.TLSKey = p.caFile, p.clientCert, p.clientKey
		})
		if st := b.Conn().TLSRequired(); !st {
			t.Error("connection is not TLS")
		}
		roundTrip(t, b)
	})
	t.Run("no client certificate", func(t *testing.T) {
		// TLS 1.3 checks the client certificate after the handshake: the
		// client may see the refusal as the server closing the connection.
		refused(t, queue.Config{URL: url, TLSCA: p.caFile}, "", "certificate", "closed by remote", "broken pipe", "connection reset")
	})
	t.Run("client certificate from another CA", func(t *testing.T) {
		refused(t, queue.Config{URL: url, TLSCA: p.caFile, TLSCert: p.strangerCert, TLSKey: p.strangerKey}, "", "certificate", "closed by remote", "broken pipe", "connection reset")
	})
	t.Run("server not trusted", func(t *testing.T) {
		refused(t, queue.Config{URL: url, TLSCA: p.strangerCA, TLSCert: p.clientCert, TLSKey: p.clientKey}, "", "unknown authority")
	})
	t.Run("certificate without its key is a config error", func(t *testing.T) {
		err := queue.Config{URL: url, TLSCA: p.caFile, TLSCert: p.clientCert}.Validate()
		if err == nil || !strings.Contains(err.Error(), "tls cert and tls key") {
			t.Errorf("Validate: %v", err)
		}
	})
}

func TestTokenAuth(t *testing.T) {
	const token = "queue-test-token-5c0ffee"
	url := startAuthServer(t, &server.Options{Authorization: token})
	roundTrip(t, connect(t, url, func(c *queue.Config) { c.Token = token }))
	refused(t, queue.Config{URL: url}, "", "authorization")
	refused(t, queue.Config{URL: url, Token: token + "-wrong"}, token, "authorization")
}

// operator is an operator-mode trust chain built at test time: operator →
// account (JetStream enabled) → user, plus the system account.
type operator struct {
	claims  *jwt.OperatorClaims
	sysPub  string
	jwts    map[string]string // account public key → JWT
	account nkeys.KeyPair
}

func newOperator(t *testing.T) *operator {
	t.Helper()
	opKP := mustKP(t, nkeys.CreateOperator)
	opPub, _ := opKP.PublicKey()
	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "txworker-test-operator"
	o := &operator{jwts: map[string]string{}}
	sysKP := mustKP(t, nkeys.CreateAccount)
	o.sysPub, _ = sysKP.PublicKey()
	oc.SystemAccount = o.sysPub
	opJWT, err := oc.Encode(opKP)
	if err != nil {
		t.Fatal(err)
	}
	if o.claims, err = jwt.DecodeOperatorClaims(opJWT); err != nil {
		t.Fatal(err)
	}
	sc := jwt.NewAccountClaims(o.sysPub)
	sc.Name = "SYS"
	if o.jwts[o.sysPub], err = sc.Encode(opKP); err != nil {
		t.Fatal(err)
	}
	o.account = mustKP(t, nkeys.CreateAccount)
	accPub, _ := o.account.PublicKey()
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = "TXWORKER"
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	if o.jwts[accPub], err = ac.Encode(opKP); err != nil {
		t.Fatal(err)
	}
	return o
}

func mustKP(t *testing.T, create func() (nkeys.KeyPair, error)) nkeys.KeyPair {
	t.Helper()
	kp, err := create()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// creds writes a creds file of a new user of the account, signed by
// signer (the account, or a stranger).
func (o *operator) creds(t *testing.T, signer nkeys.KeyPair) string {
	t.Helper()
	userKP := mustKP(t, nkeys.CreateUser)
	userPub, _ := userKP.PublicKey()
	uc := jwt.NewUserClaims(userPub)
	uc.Name = "txworker"
	userJWT, err := uc.Encode(signer)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := userKP.Seed()
	if err != nil {
		t.Fatal(err)
	}
	conf, err := jwt.FormatUserConfig(userJWT, seed)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "txworker.creds")
	if err := os.WriteFile(file, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestCredsFileAuth(t *testing.T) {
	o := newOperator(t)
	resolver := &server.MemAccResolver{}
	for pub, j := range o.jwts {
		if err := resolver.Store(pub, j); err != nil {
			t.Fatal(err)
		}
	}
	url := startAuthServer(t, &server.Options{
		TrustedOperators: []*jwt.OperatorClaims{o.claims},
		AccountResolver:  resolver,
		SystemAccount:    o.sysPub,
	})
	roundTrip(t, connect(t, url, func(c *queue.Config) { c.CredsFile = o.creds(t, o.account) }))
	refused(t, queue.Config{URL: url}, "", "authorization")
	stranger := mustKP(t, nkeys.CreateAccount)
	refused(t, queue.Config{URL: url, CredsFile: o.creds(t, stranger)}, "", "authorization")
	if err := (queue.Config{URL: url, CredsFile: o.creds(t, o.account), Token: "x"}).Validate(); err == nil {
		t.Error("creds file and token together validated")
	}
}
