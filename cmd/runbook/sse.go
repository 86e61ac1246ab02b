package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// stream reads the server-sent events at path (with its query) and hands
// each event's name and data to each until it says the stream is done;
// it returns what each returned last.
func (c *apiClient) stream(path string, each func(event, data string) (status string, done bool, err error)) (string, error) {
	req, err := http.NewRequest("GET", c.addr+path, nil)
	if err != nil {
		return "", err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w", c.addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		return "", problemOf(resp.StatusCode, raw)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			event = ev
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		if status, done, err := each(event, data); done || err != nil {
			return status, err
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errStreamEnded
}

// errStreamEnded is a stream that closed before its last event.
var errStreamEnded = fmt.Errorf("the stream ended early")
