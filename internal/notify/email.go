package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
)

// emailSender sends a plain-text mail through an SMTP smarthost with
// net/smtp: EHLO, STARTTLS (when offered, or required), AUTH PLAIN (when
// configured), MAIL, RCPT, DATA.
type emailSender struct {
	cfg EmailConfig
	// tls is the base TLS configuration for STARTTLS (tests add their CA);
	// nil means the system's roots.
	tls *tls.Config
}

func (s *emailSender) send(ctx context.Context, m *Message) error {
	msg, err := emailMessage(s.cfg, m)
	if err != nil {
		return osprey.Permanent(err)
	}
	host, _, err := net.SplitHostPort(s.cfg.Smarthost)
	if err != nil {
		return osprey.Permanent(fmt.Errorf("smarthost: %w", err))
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Smarthost)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp greeting: %w", smtpErr(err))
	}
	defer c.Close()
	hello := s.cfg.Hello
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return fmt.Errorf("smtp EHLO: %w", smtpErr(err))
	}
	mode := s.cfg.StartTLS
	if mode == "" {
		mode = StartTLSAuto
	}
	if ok, _ := c.Extension("STARTTLS"); ok && mode != StartTLSOff {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.tls != nil {
			cfg = s.tls.Clone()
		}
		cfg.ServerName = host
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("smtp STARTTLS: %w", smtpErr(err))
		}
	} else if mode == StartTLSRequired {
		return osprey.Permanent(errors.New("smtp: the server does not offer STARTTLS, which starttls: required demands"))
	}
	if s.cfg.AuthUsername != "" {
		pw, err := s.cfg.AuthPassword.read()
		if err != nil {
			return fmt.Errorf("smtp auth_password: %w", err)
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.AuthUsername, pw, host)); err != nil {
			return fmt.Errorf("smtp AUTH: %w", smtpErr(err))
		}
	}
	from, _ := mail.ParseAddress(s.cfg.From)
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("smtp MAIL FROM: %w", smtpErr(err))
	}
	for _, to := range s.cfg.To {
		a, _ := mail.ParseAddress(to)
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("smtp RCPT TO %s: %w", a.Address, smtpErr(err))
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp DATA: %w", smtpErr(err))
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp DATA: %w", smtpErr(err))
	}
	// The message is accepted once DATA is; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// smtpErr marks 5xx replies permanent; 4xx and network errors stay
// retryable.
func smtpErr(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return osprey.Permanent(err)
	}
	return err
}

// emailMessage renders the RFC 5322 message: headers (the subject encoded
// when it is not ASCII), and the text body, quoted-printable. The
// Message-ID is derived from the incident, receiver and key, so a mail
// re-sent after a crash carries the same id; follow-ups reference the
// opening mail, so clients thread them.
func emailMessage(cfg EmailConfig, m *Message) ([]byte, error) {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	to := make([]string, 0, len(cfg.To))
	for _, t := range cfg.To {
		a, err := mail.ParseAddress(t)
		if err != nil {
			return nil, fmt.Errorf("to: %w", err)
		}
		to = append(to, a.String())
	}
	domain := "osprey.invalid"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
		domain = from.Address[i+1:]
	}
	id := func(key string) string {
		return "<" + msgIDPart(m.Incident.ID) + "." + msgIDPart(key) + "." + msgIDPart(m.Receiver) + "@" + msgIDPart(domain) + ">"
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from.String())
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject())))
	header("Date", m.At.Format(time.RFC1123Z))
	header("Message-ID", id(m.Key))
	if m.Key != string(KindOpened) {
		header("In-Reply-To", id(string(KindOpened)))
		header("References", id(string(KindOpened)))
	}
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	header("X-Osprey-Incident", msgIDPart(m.Incident.ID))
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(m.Text(), "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// msgIDPart keeps the characters allowed in a Message-ID's parts.
func msgIDPart(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r):
			return r
		}
		return '_'
	}, s)
}
