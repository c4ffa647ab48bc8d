using System.Net;
using System.Net.Sockets;

namespace MixerWorker.Testbed;

/// <summary>A TCP port nobody listens on now, for a child process's own server (Redis, /metrics).</summary>
public static class FreePorts
{
    public static int Tcp()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
