import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.util.Map;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.gzip.GzipHandler;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;

/**
 * Apache Iceberg's REST catalog fixture (org.apache.iceberg.rest.RESTCatalogServer), served on one
 * address only. The fixture's own main binds every interface (new Server(port)) with no
 * authentication; this builds the same catalog, adapter and servlet (package-private in the
 * fixture, so reached by reflection) behind a connector bound to persona.iceberg-rest.host
 * (127.0.0.1 unless set). Its configuration is the fixture's: CATALOG_* environment variables.
 */
public class LoopbackRestCatalogServer {
  public static void main(String[] args) throws Exception {
    String host = System.getProperty("persona.iceberg-rest.host", "127.0.0.1");
    Class<?> fixture = Class.forName("org.apache.iceberg.rest.RESTCatalogServer");
    Constructor<?> fixtureNew = fixture.getDeclaredConstructor();
    fixtureNew.setAccessible(true);
    Method initialize = fixture.getDeclaredMethod("initializeBackendCatalog");
    initialize.setAccessible(true);
    Object context = initialize.invoke(fixtureNew.newInstance());

    Class<?> contextClass = Class.forName("org.apache.iceberg.rest.RESTCatalogServer$CatalogContext");
    Method configuration = contextClass.getDeclaredMethod("configuration");
    configuration.setAccessible(true);
    @SuppressWarnings("unchecked")
    Map<String, String> config = (Map<String, String>) configuration.invoke(context);
    int port = Integer.parseInt(config.getOrDefault("rest.port", "8181"));

    Class<?> adapterClass = Class.forName("org.apache.iceberg.rest.RESTServerCatalogAdapter");
    Constructor<?> adapterNew = adapterClass.getDeclaredConstructor(contextClass);
    adapterNew.setAccessible(true);
    Object adapter = adapterNew.newInstance(context);
    Class<?> servletClass = Class.forName("org.apache.iceberg.rest.RESTCatalogServlet");
    Constructor<?> servletNew =
        servletClass.getDeclaredConstructor(Class.forName("org.apache.iceberg.rest.RESTCatalogAdapter"));
    servletNew.setAccessible(true);
    jakarta.servlet.Servlet servlet = (jakarta.servlet.Servlet) servletNew.newInstance(adapter);

    ServletContextHandler handler = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    handler.addServlet(new ServletHolder(servlet), "/*");
    handler.insertHandler(new GzipHandler());
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost(host);
    connector.setPort(port);
    server.addConnector(connector);
    server.setHandler(handler);
    server.start();
    server.join();
  }
}
