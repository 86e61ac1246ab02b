package server

import (
	"bufio"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
)

// listWriters buffer the writes of writeList.
var listWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}

// writeList answers 200 with {"key": [parts...]}, its entries already
// encoded (a long list is joined, not encoded at each request), as
// c.JSON would write it: the same bytes, a newline at the end.
func writeList(c echo.Context, key string, parts [][]byte) error {
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	res.WriteHeader(http.StatusOK)
	bw := listWriters.Get().(*bufio.Writer)
	bw.Reset(res)
	defer func() {
		bw.Reset(nil)
		listWriters.Put(bw)
	}()
	_, _ = bw.WriteString(`{"` + key + `":[`)
	for i, p := range parts {
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		_, _ = bw.Write(p)
	}
	_, _ = bw.WriteString("]}\n")
	return bw.Flush()
}
