import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

/**
 * mongo-java-server (an emulation of MongoDB's wire protocol, data in memory) on a chosen address:
 * its own main class always binds 27017. Usage: java -cp "lib/*" MongoLauncher.java <host> <port>
 */
public class MongoLauncher {
	public static void main(String[] args) throws InterruptedException {
		String host = args.length > 0 ? args[0] : "127.0.0.1";
		int port = args.length > 1 ? Integer.parseInt(args[1]) : 27017;
		MongoServer server = new MongoServer(new MemoryBackend());
		Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
		server.bind(host, port);
		System.out.println("mongo-java-server listening on " + host + ":" + port);
		Thread.currentThread().join();
	}
}
