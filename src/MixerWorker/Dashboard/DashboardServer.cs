using System.Net;
using System.Reflection;
using System.Text.Json;
using MixerWorker.ControlPlane;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.Dashboard;

/// <summary>
/// `ctl dashboard`: a live page of the whole fleet, served by this process from files built into it
/// (plain HTML, CSS and JavaScript, no build step) and a JSON view read from Redis. The page polls
/// /api/fleet every second; thumbnails come from /api/thumbnail/&lt;project&gt;/&lt;bus&gt;.
/// Read-only: it sends no command.
/// </summary>
internal static class DashboardServer
{
    private static readonly Dictionary<string, (string Resource, string ContentType)> Files = new()
    {
        ["/"] = ("index.html", "text/html; charset=utf-8"),
        ["/dashboard.js"] = ("dashboard.js", "text/javascript; charset=utf-8"),
        ["/dashboard.css"] = ("dashboard.css", "text/css; charset=utf-8"),
    };

    public static async Task<int> RunAsync(IConnectionMultiplexer redis, RedisKeys keys, string host, int port)
    {
        var fleet = new FleetReader(redis, keys);
        await fleet.ListenAsync();
        using var listener = new HttpListener();
        // HttpListener's own spelling of "every interface".
        var prefixHost = host is "0.0.0.0" or "*" or "+" ? "+" : host;
        listener.Prefixes.Add($"http://{prefixHost}:{port}/");
        try { listener.Start(); }
        catch (HttpListenerException e)
        {
            Console.Error.WriteLine($"dashboard: cannot listen on {host}:{port} ({e.Message})");
            return 1;
        }
        var shown = prefixHost == "+" ? "localhost" : host;
        Console.WriteLine($"dashboard on http://{shown}:{port}/ (Ctrl-C to stop)");

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
        await using var stopping = stop.Token.Register(listener.Stop);
        while (!stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { break; }
            _ = Task.Run(() => AnswerAsync(context, fleet));
        }
        return 0;
    }

    private static async Task AnswerAsync(HttpListenerContext context, FleetReader fleet)
    {
        var response = context.Response;
        try
        {
            var path = context.Request.Url?.AbsolutePath ?? "/";
            response.Headers["Cache-Control"] = "no-store";
            if (context.Request.HttpMethod != "GET") response.StatusCode = (int)HttpStatusCode.MethodNotAllowed;
            else if (Files.TryGetValue(path, out var file)) await WriteAsync(response, file.ContentType, Resource(file.Resource));
            else if (path == "/api/fleet") await WriteAsync(response, "application/json; charset=utf-8", JsonSerializer.SerializeToUtf8Bytes(await fleet.ReadAsync(), ControlPlaneJson.Options.Info<FleetView>()));
            else if (path.Split('/') is ["", "api", "thumbnail", var project, var bus] && await fleet.ThumbnailAsync(project, bus) is { } jpeg)
                await WriteAsync(response, "image/jpeg", jpeg);
            else response.StatusCode = (int)HttpStatusCode.NotFound;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            response.StatusCode = (int)HttpStatusCode.ServiceUnavailable;
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException) { } // the browser went away
        finally
        {
            try { response.Close(); } catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { }
        }
    }

    private static async Task WriteAsync(HttpListenerResponse response, string contentType, byte[] body)
    {
        response.ContentType = contentType;
        response.ContentLength64 = body.Length;
        await response.OutputStream.WriteAsync(body);
    }

    private static byte[] Resource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"MixerWorker.Dashboard.{name}")
            ?? throw new InvalidOperationException($"dashboard file {name} is not built in");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
