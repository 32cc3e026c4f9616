package main

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// preparePayload returns the file to send: a folder is zipped into a temp
// file; a file is sent as it is (as a zip to extract with extract).
func preparePayload(src string, isDir, extract bool) (path string, isZip bool, cleanup func(), err error) {
	cleanup = func() {}
	if !isDir {
		return src, extract && strings.HasSuffix(strings.ToLower(src), ".zip"), cleanup, nil
	}
	tmp, err := os.CreateTemp("", "nomad-iis-ctl-*.zip")
	if err != nil {
		return "", false, cleanup, err
	}
	cleanup = func() { os.Remove(tmp.Name()) }
	if err := ZipDir(src, tmp); err != nil {
		tmp.Close()
		cleanup()
		return "", false, func() {}, err
	}
	if err := tmp.Close(); err != nil {
		cleanup()
		return "", false, func() {}, err
	}
	return tmp.Name(), true, cleanup, nil
}

// ZipDir writes the files and folders under dir into w as a zip (paths
// relative to dir, "/"-separated; symlinks and special files skipped).
func ZipDir(dir string, w io.Writer) error {
	zw := zip.NewWriter(w)
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		name := filepath.ToSlash(rel)
		switch {
		case info.IsDir():
			h, err := zip.FileInfoHeader(info)
			if err != nil {
				return err
			}
			h.Name = name + "/"
			_, err = zw.CreateHeader(h)
			return err
		case info.Mode().IsRegular():
			h, err := zip.FileInfoHeader(info)
			if err != nil {
				return err
			}
			h.Name, h.Method = name, zip.Deflate
			fw, err := zw.CreateHeader(h)
			if err != nil {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(fw, f)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return zw.Close()
}
