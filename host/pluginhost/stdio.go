package pluginhost

import (
	"context"
	"sync"

	hclog "github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"nomad_iis/gen/gopluginstdio"
)

// stdioDrain opens plugin.GRPCStdio/StreamStdio right after connecting, as
// the go-plugin version Nomad links does, and discards the data (Nomad sets
// no sinks). UNIMPLEMENTED and UNAVAILABLE are tolerated.
type stdioDrain struct {
	cancel context.CancelFunc
	once   sync.Once
}

func startStdioDrain(conn *grpc.ClientConn, logger hclog.Logger) *stdioDrain {
	ctx, cancel := context.WithCancel(context.Background())
	d := &stdioDrain{cancel: cancel}
	go func() {
		stream, err := gopluginstdio.NewGRPCStdioClient(conn).StreamStdio(ctx, &emptypb.Empty{})
		if err != nil {
			logger.Trace("StreamStdio not available", "error", err)
			return
		}
		for {
			msg, err := stream.Recv()
			if err != nil {
				logger.Trace("StreamStdio ended", "error", err)
				return
			}
			logger.Trace("plugin stdio", "channel", msg.GetChannel().String(), "bytes", len(msg.GetData()))
		}
	}()
	return d
}

func (d *stdioDrain) stop() {
	if d == nil {
		return
	}
	d.once.Do(d.cancel)
}
