package pluginhost

import (
	"context"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/emptypb"

	"nomad_iis/gen/basepb"
	"nomad_iis/gen/driverpb"
)

// DriverClient bundles the gRPC clients for one plugin connection.
type DriverClient struct {
	// Conn is the connection go-plugin dialled.
	Conn *grpc.ClientConn
	// Base is hashicorp.nomad.plugins.base.proto.BasePlugin.
	Base basepb.BasePluginClient
	// Driver is hashicorp.nomad.plugins.drivers.proto.Driver.
	Driver driverpb.DriverClient
}

// NewDriverClient wraps an established plugin connection.
func NewDriverClient(conn *grpc.ClientConn) *DriverClient {
	return &DriverClient{
		Conn:   conn,
		Base:   basepb.NewBasePluginClient(conn),
		Driver: driverpb.NewDriverClient(conn),
	}
}

// Health calls grpc.health.v1.Health/Check for service "plugin", which
// every go-plugin server registers.
func (d *DriverClient) Health(ctx context.Context) (healthpb.HealthCheckResponse_ServingStatus, error) {
	resp, err := healthpb.NewHealthClient(d.Conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "plugin"})
	if err != nil {
		return healthpb.HealthCheckResponse_UNKNOWN, err
	}
	return resp.GetStatus(), nil
}

// ControllerShutdown calls plugin.GRPCController/Shutdown directly. The
// request and reply are plugin.Empty, which has the same (empty) wire form
// as google.protobuf.Empty; go-plugin already registers plugin.Empty, so the
// host does not import a second Go type for it.
func (d *DriverClient) ControllerShutdown(ctx context.Context) error {
	return d.Conn.Invoke(ctx, "/plugin.GRPCController/Shutdown", &emptypb.Empty{}, &emptypb.Empty{})
}
