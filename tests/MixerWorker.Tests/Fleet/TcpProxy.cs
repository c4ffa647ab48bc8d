using System.Net;
using System.Net.Sockets;

namespace MixerWorker.Tests.Fleet;

/// <summary>
/// A TCP proxy in front of one endpoint (redis-server) that a test can cut, like a network partition
/// between one worker and Redis: while cut, nothing passes either way (bytes already read are held,
/// as TCP would hold them) and new connections are accepted but hear nothing; <see cref="Heal"/> lets
/// everything through again. Loopback only.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _clients = [];
    private readonly List<Task> _pumps = [];
    private readonly Lock _lock = new();
    private TaskCompletionSource _open = NewOpen();
    private TaskCompletionSource _repliesOpen = NewOpen();
    private readonly Task _accepting;

    public TcpProxy(int targetPort)
    {
        _target = new IPEndPoint(IPAddress.Loopback, targetPort);
        _listener.Start();
        _accepting = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public bool IsCut
    {
        get { lock (_lock) return !_open.Task.IsCompleted; }
    }

    public void Cut()
    {
        lock (_lock)
            if (_open.Task.IsCompleted) _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Requests still reach the server, its replies are held: every call's outcome is unknown to the client.</summary>
    public void CutReplies()
    {
        lock (_lock)
            if (_repliesOpen.Task.IsCompleted) _repliesOpen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void Heal()
    {
        lock (_lock)
        {
            _open.TrySetResult();
            _repliesOpen.TrySetResult();
        }
    }

    private static TaskCompletionSource NewOpen()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    private Task WhenOpen(bool reply)
    {
        lock (_lock) return reply ? Task.WhenAll(_open.Task, _repliesOpen.Task) : _open.Task;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            var upstream = new TcpClient();
            try { await upstream.ConnectAsync(_target, _stop.Token); }
            catch (Exception) { client.Dispose(); upstream.Dispose(); continue; }
            lock (_lock)
            {
                _clients.Add(client);
                _clients.Add(upstream);
                _pumps.Add(Task.Run(() => PumpAsync(client, upstream, reply: false)));
                _pumps.Add(Task.Run(() => PumpAsync(upstream, client, reply: true)));
            }
        }
    }

    private async Task PumpAsync(TcpClient from, TcpClient to, bool reply)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            var input = from.GetStream();
            var output = to.GetStream();
            while (!_stop.IsCancellationRequested)
            {
                await WhenOpen(reply).WaitAsync(_stop.Token);
                var n = await input.ReadAsync(buffer, _stop.Token);
                if (n == 0) break;
                // Read before a cut, delivered after it heals: a partition delays bytes, it does not lose them.
                await WhenOpen(reply).WaitAsync(_stop.Token);
                await output.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException) { }
        from.Dispose();
        to.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Heal();
        Task[] pumps;
        lock (_lock)
        {
            foreach (var c in _clients) c.Dispose();
            pumps = [.. _pumps];
        }
        await Task.WhenAll([_accepting, .. pumps]).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
        _stop.Dispose();
    }
}
