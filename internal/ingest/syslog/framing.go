package syslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// errOversized reports a frame longer than the message limit. The frame was
// skipped and the stream is still in step: reading may go on.
var errOversized = errors.New("message longer than the limit")

// errFraming reports a stream that cannot be split into messages any more
// (a broken octet count); the connection must be closed.
var errFraming = errors.New("broken octet-counted framing")

// maxLenDigits bounds MSG-LEN: nine digits are a gigabyte.
const maxLenDigits = 9

// frameReader splits a TCP stream into syslog messages, with either of RFC
// 6587's framings, told apart by the first byte of the connection: a digit
// starts octet counting ("MSG-LEN SP MSG"), anything else (normally '<')
// non-transparent framing, one message per line. A connection keeps the
// framing it started with.
type frameReader struct {
	r       *bufio.Reader
	max     int
	decided bool
	octet   bool
	buf     []byte
}

// newFrameReader reads frames of at most max bytes from r. r's buffer must
// hold at least max+1 bytes for newline framing to see a long line whole.
func newFrameReader(r *bufio.Reader, max int) *frameReader {
	return &frameReader{r: r, max: max}
}

// next returns the next message without its framing. The slice is valid
// until the next call. It returns errOversized for a skipped frame,
// errFraming (wrapped) when the stream is broken, and io.EOF at a clean end
// of stream; other errors are the reader's.
func (f *frameReader) next() ([]byte, error) {
	if !f.decided {
		// Line ends before the first frame are tolerated, and do not
		// decide the framing.
		for {
			c, err := f.r.ReadByte()
			if err != nil {
				return nil, err
			}
			if c == '\n' || c == '\r' {
				continue
			}
			_ = f.r.UnreadByte()
			f.octet = c >= '1' && c <= '9'
			f.decided = true
			break
		}
	}
	if f.octet {
		return f.nextOctet()
	}
	return f.nextLine()
}

// nextOctet reads "MSG-LEN SP MSG". Some senders end each frame with a
// newline as well; line ends between frames are skipped.
func (f *frameReader) nextOctet() ([]byte, error) {
	n, digits := 0, 0
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			if err == io.EOF && digits > 0 {
				return nil, fmt.Errorf("%w: stream ends in MSG-LEN", errFraming)
			}
			return nil, err
		}
		switch {
		case digits == 0 && (c == '\n' || c == '\r'):
			continue
		case c >= '0' && c <= '9':
			if digits == 0 && c == '0' {
				return nil, fmt.Errorf("%w: MSG-LEN starts with 0", errFraming)
			}
			if digits++; digits > maxLenDigits {
				return nil, fmt.Errorf("%w: MSG-LEN longer than %d digits", errFraming, maxLenDigits)
			}
			n = n*10 + int(c-'0')
			continue
		case c == ' ' && digits > 0:
		default:
			return nil, fmt.Errorf("%w: want MSG-LEN SP, got %q", errFraming, c)
		}
		break
	}
	if n > f.max {
		if _, err := f.r.Discard(n); err != nil {
			return nil, unexpected(err)
		}
		return nil, errOversized
	}
	if cap(f.buf) < n {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return nil, unexpected(err)
	}
	return f.buf, nil
}

// nextLine reads one line; blank lines are skipped. The last message of a
// stream may lack its newline.
func (f *frameReader) nextLine() ([]byte, error) {
	for {
		line, err := f.r.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			// Too long: skip to the end of the line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = f.r.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, errOversized
		case err == io.EOF && len(line) > 0:
			// The last message, without a newline: deliver it now; the
			// next call sees EOF.
		case err != nil:
			return nil, err
		}
		line = trimEOL(line)
		if len(line) > f.max {
			return nil, errOversized
		}
		if len(line) > 0 {
			return line, nil
		}
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	return b
}

// unexpected turns an EOF inside a frame into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
