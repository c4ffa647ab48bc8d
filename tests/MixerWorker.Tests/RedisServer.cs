using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MixerWorker.Testbed;
using StackExchange.Redis;

namespace MixerWorker.Tests;

/// <summary>A real redis-server on a free loopback port, without persistence, that a test can kill and start again.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private Process? _process;

    public int Port { get; } = FreeTcpPort();
    public string Password { get; }

    public RedisServer(string password) => Password = password;

    /// <summary>What the worker and the test's own client are given (REDIS__CONFIGURATION).</summary>
    public string Configuration => $"127.0.0.1:{Port},password={Password}";

    public static async Task<RedisServer> StartAsync(string password)
    {
        var server = new RedisServer(password);
        await server.StartAsync();
        return server;
    }

    /// <summary>Starts (again) on the same port; without persistence a restarted server is empty.</summary>
    public async Task StartAsync()
    {
        var psi = new ProcessStartInfo("redis-server")
        {
            ArgumentList = { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", Password },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = ChildProcesses.Start(psi); // a missing redis-server throws here (./run.sh test installs it)
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                await using var probe = await ConnectAsync();
                await probe.GetDatabase().PingAsync();
                return;
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline) { await Task.Delay(50); }
        }
    }

    public Task<ConnectionMultiplexer> ConnectAsync() => ConnectionMultiplexer.ConnectAsync(Configuration + ",abortConnect=true,connectTimeout=2000");

    /// <summary>Kills the server as a crash would.</summary>
    public async Task KillAsync()
    {
        if (_process is null) return;
        _process.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync() => await KillAsync();

    private static int FreeTcpPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
